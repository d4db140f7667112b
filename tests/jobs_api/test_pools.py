"""GET /api/v1/pools: the pools of the API's inventory (vmm_ip_pools), with the directory's VMs holding their
addresses; admins only; a broken declaration is an error naming its field."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from api.directory import vm_row
from api.store import utcnow

from .conftest import Client, make_token

PUB4 = {"name": "pub4", "subnet": "203.0.113.0/24", "ranges": ["203.0.113.10-203.0.113.19"],
        "gateway": "203.0.113.1", "dns": ["203.0.113.53"], "routed": True}
PUB6 = {"name": "pub6", "subnet": "2001:db8:5::/64", "ranges": ["2001:db8:5::10-2001:db8:5::1f"], "routed": True}
LAN_A = {"name": "lan-a", "subnet": "10.20.0.0/24", "ranges": ["10.20.0.100-10.20.0.103"], "gateway": "10.20.0.1",
         "bridge": "br0", "cluster": "a"}
ELSEWHERE = {"name": "elsewhere", "subnet": "198.51.100.0/24", "network": "default"}
NODE = {"ansible_host": "127.0.0.1", "ansible_port": 1}  # never asked: the report reads no node


def _inventory(tmp_path, all_pools=(PUB4, PUB6), a_pools=(PUB4, PUB6, LAN_A), b_vars=None):
    """Two clusters: cluster a declares its own list (the shared pools and its LAN), cluster b inherits all's;
    a host outside vmm_nodes has pools of its own, which are not the API's."""
    inventory = {"all": {"vars": {"vmm_ip_pools": list(all_pools)}, "children": {
        "vmm_nodes": {"children": {
            "cluster_a": {"vars": {"vmm_cluster": "a", "vmm_ip_pools": list(a_pools)},
                          "hosts": {"node-a1": NODE, "node-a2": NODE}},
            "cluster_b": {"vars": {"vmm_cluster": "b", **(b_vars or {})}, "hosts": {"node-b1": NODE}}}},
        "outside": {"vars": {"vmm_ip_pools": [ELSEWHERE]}, "hosts": {"web": {}}}}}}
    path = tmp_path / "pools.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def _vm(name, ips, cluster="a", state="running"):
    return {"name": name, "uuid": f"uuid-{name}", "owner": "alice", "state": state, "vcpus": 1, "memory": 128,
            "ips": ips, "image": "img", "cluster": cluster, "ha": False}


def _sync(app, report, started):
    """What an inventory_sync job hands the directory when it ends."""
    job = {"operation": "inventory_sync", "vars": {}, "started": started}
    app.extensions["vmm"].directory.record_job(job, "successful", {"directory": report})


def _pools(client):
    response = client.get("/api/v1/pools")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == len(body["results"]) and body["next"] is None
    return {pool["name"]: pool for pool in body["results"]}


def test_pools_with_the_vms_holding_their_addresses(database, make_app, tmp_path):
    app = make_app(database, workers=0, inventory=_inventory(tmp_path))
    admin, alice = Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user"))
    earlier = utcnow() - timedelta(seconds=5)
    app.extensions["vmm"].store.record_vm(vm_row(_vm("vm3", ["10.20.0.101"]), "node-a2", earlier))
    _sync(app, {"node-a1": {"ok": True, "vms": [_vm("vm1", ["203.0.113.10", "2001:db8:5::10"]),
                                                _vm("vm2", ["10.20.0.100", "192.168.122.50"])]},
                "node-a2": {"ok": False, "error": "no answer", "vms": []},
                "node-b1": {"ok": True, "vms": [_vm("vm4", ["203.0.113.11"], cluster="b"),
                                                _vm("vm5", ["198.51.100.7"], cluster="b")]}}, utcnow())

    assert alice.get("/api/v1/pools").status_code == 403
    pools = _pools(admin)
    assert list(pools) == ["pub4", "pub6", "lan-a"]  # "elsewhere" belongs to no node
    assert pools["pub4"] == {
        "name": "pub4", "version": 4, "subnet": "203.0.113.0/24", "gateway": "203.0.113.1", "dns": ["203.0.113.53"],
        "attach": {"routed": True}, "cluster": None, "size": 10, "used": 2, "free": 8,
        "addresses": [{"address": "203.0.113.10", "vm": "vm1"}, {"address": "203.0.113.11", "vm": "vm4"}]}
    assert (pools["pub6"]["size"], pools["pub6"]["used"], pools["pub6"]["free"]) == (16, 1, 15)
    assert pools["pub6"]["addresses"] == [{"address": "2001:db8:5::10", "vm": "vm1"}]
    # vm3's node did not answer the sync: the VM is unknown, and its address still taken
    assert admin.get("/api/v1/vms/vm3").get_json()["state"] == "unknown"
    assert (pools["lan-a"]["cluster"], pools["lan-a"]["used"], pools["lan-a"]["free"]) == ("a", 2, 2)
    assert pools["lan-a"]["addresses"] == [{"address": "10.20.0.100", "vm": "vm2"},
                                           {"address": "10.20.0.101", "vm": "vm3"}]

    # the next sync no longer sees vm4 on node-b1: its address is free again
    _sync(app, {"node-b1": {"ok": True, "vms": [_vm("vm5", [], cluster="b")]}}, utcnow())
    assert _pools(admin)["pub4"]["addresses"] == [{"address": "203.0.113.10", "vm": "vm1"}]


@pytest.mark.parametrize(("inventory", "field", "words"), [
    ({"a_pools": (PUB4, dict(LAN_A, gateway="10.9.9.1"))}, "vmm_ip_pools[1].gateway",
     ["node-a1", "10.9.9.1 is outside subnet 10.20.0.0/24"]),
    ({"b_vars": {"vmm_ip_pools": "{{ lookup('pipe', 'id') }}"}}, "vmm_ip_pools",
     ["node-b1", "must be a list", "{{ lookup('pipe', 'id') }}"]),  # as written: never rendered
    ({"b_vars": {"vmm_ip_pools": [dict(PUB4, gateway="203.0.113.254")]}}, "vmm_ip_pools[0].name",
     ["node-b1", "pool pub4 is declared otherwise for node node-a1"]),
])
def test_a_broken_declaration_is_an_error_naming_the_field(sqlite_url, make_app, tmp_path, inventory, field, words):
    app = make_app(sqlite_url, workers=0, inventory=_inventory(tmp_path, **inventory))
    admin, alice = Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user"))
    assert alice.get("/api/v1/pools").status_code == 403  # a user learns nothing of it
    response = admin.get("/api/v1/pools")
    assert response.status_code == 500 and response.get_json()["field"] == field, response.get_json()
    detail = response.get_json()["detail"]
    assert detail.startswith("The inventory's IP pools are not valid") and f"{field}: " in detail, detail
    assert all(word in detail for word in words), detail


def test_an_unreadable_inventory_is_an_error_that_says_so(sqlite_url, make_app, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("all: [not, an, inventory\n")
    app = make_app(sqlite_url, workers=0, inventory=str(broken))
    response = Client(app, make_token(app, "admin", "admin")).get("/api/v1/pools")
    assert response.status_code == 500, response.get_json()
    assert response.get_json()["detail"].startswith("The API could not read its inventory: ansible-inventory failed")


POOL = {"name": "it-api-pool", "subnet": "10.252.7.0/24", "ranges": ["10.252.7.10-10.252.7.13"],
        "gateway": "10.252.7.1", "network": "default"}


def test_a_vm_created_through_the_api_holds_a_pool_address_until_deleted(sqlite_url, make_app, tmp_path,
                                                                       tiny_image, remove_vm):
    """The job's playbook and the report read one inventory: the address vm_create took is the one listed."""
    path = tmp_path / "local.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"vmm_nodes": {"vars": {"vmm_ip_pools": [POOL]}, "children": {
        "cluster_local": {"hosts": {"localhost": {"ansible_connection": "local",
                                                  "ansible_python_interpreter": "/usr/bin/python3"}}}}}}}}))
    app = make_app(sqlite_url, inventory=str(path))
    admin = Client(app, make_token(app, "admin", "admin"))
    name = "it-api-pooled"
    remove_vm.add(name)
    assert _pools(admin)["it-api-pool"]["used"] == 0

    created = admin.wait(admin.submit("vm_create", {"name": name, "image": tiny_image, "memory": 128,
                                                    "networks": [{"network": "default", "ipv6": "none"}]})["id"],
                         timeout=300)
    assert created["status"] == "successful", created["job_explanation"]
    taken = created["artifacts"]["vm"]["interfaces"][0]["addresses"]
    assert [(held["address"], held["pool"]) for held in taken] == [("10.252.7.10", "it-api-pool")]
    pool = _pools(admin)["it-api-pool"]
    assert (pool["used"], pool["free"], pool["addresses"]) == (1, 3, [{"address": "10.252.7.10", "vm": name}])

    deleted = admin.wait(admin.submit("vm_delete", {"name": name})["id"], timeout=300)
    assert deleted["status"] == "successful", deleted["job_explanation"]
    assert _pools(admin)["it-api-pool"]["used"] == 0  # deleting the VM freed it
