"""Operation vm_address: admins only, a closed schema with tight formats, every bad value refused before any job
(workers=0 but in the last test, which runs real jobs on this node)."""

from __future__ import annotations

import json

import pytest

from api.operations import OPERATIONS

from .conftest import Client, make_token


@pytest.fixture
def api(make_app, sqlite_url):
    app = make_app(sqlite_url, workers=0)
    return Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user"))


def test_listed_for_admins_with_its_schema(api):
    admin, alice = api
    listed = {op["name"]: op for op in admin.get("/api/v1/operations").get_json()["results"]}
    operation = listed["vm_address"]
    assert (operation["target"], operation["roles"]) == ("vm", ["admin"])
    schema = operation["vars_schema"]
    assert schema["required"] == ["name"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"name", "address", "version", "count", "nic", "state"}
    assert schema["properties"]["address"]["default"] == "auto"
    assert (schema["properties"]["version"]["enum"], schema["properties"]["version"]["default"]) == ([4, 6], 4)
    assert (schema["properties"]["nic"]["minimum"], schema["properties"]["nic"]["maximum"]) == (0, 15)
    assert schema["properties"]["state"] == {"type": "string", "enum": ["present", "absent"], "default": "present"}
    assert "vm_address" not in {op["name"] for op in alice.get("/api/v1/operations").get_json()["results"]}


def test_a_user_gets_403(api):
    admin, alice = api
    response = alice.post("/api/v1/jobs", {"operation": "vm_address", "vars": {"name": "web1"}})
    assert response.status_code == 403 and "administrators" in response.get_json()["detail"]
    assert alice.get("/api/v1/pools").status_code == 403
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0


@pytest.mark.parametrize(("variables", "field"), [
    ({}, "vars.name"),
    ({"name": "web1; id"}, "vars.name"),
    ({"name": "{{ lookup('pipe','id') }}"}, "vars.name"),
    ({"name": "web1", "address": "10.0.0.1; id"}, "vars.address"),
    ({"name": "web1", "address": "{{ lookup('pipe','id') }}"}, "vars.address"),
    ({"name": "web1", "address": "10.0.0.256"}, "vars.address"),
    ({"name": "web1", "address": "10.0.0.0/24"}, "vars.address"),
    ({"name": "web1", "address": "next"}, "vars.address"),
    ({"name": "web1", "address": 167772161}, "vars.address"),
    ({"name": "web1", "version": 5}, "vars.version"),
    ({"name": "web1", "version": "4"}, "vars.version"),
    ({"name": "web1", "nic": -1}, "vars.nic"),
    ({"name": "web1", "nic": 16}, "vars.nic"),
    ({"name": "web1", "nic": True}, "vars.nic"),
    ({"name": "web1", "state": "gone"}, "vars.state"),
    ({"name": "web1", "pool": "pub4"}, "vars.pool"),
    ({"name": "web1", "vmm_ip_pools": []}, "vars.vmm_ip_pools"),
])
def test_bad_values_name_the_field_and_make_no_job(api, variables, field):
    admin, _ = api
    response = admin.post("/api/v1/jobs", {"operation": "vm_address", "vars": variables})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field, response.get_json()
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0


@pytest.mark.parametrize("variables", [
    {"name": "web1"},
    {"name": "web1", "address": "203.0.113.10", "nic": 1},
    {"name": "web1", "address": "2001:db8:5::10", "state": "absent"},
    {"name": "web1", "address": "auto", "version": 6, "nic": 15, "state": "present"},
])
def test_good_values_queue_a_job_on_the_vm(api, variables):
    admin, _ = api
    job = admin.submit("vm_address", variables)
    assert (job["status"], job["target"], job["vars"]) == ("pending", "vm:web1", variables)
    assert OPERATIONS["vm_address"].extravars(variables) == {f"vm_{key}": value for key, value in variables.items()}


POOL = {"name": "it-api-pool", "network": "default", "subnet": "10.252.0.0/24", "ranges": ["10.252.0.10-10.252.0.12"],
        "gateway": "10.252.0.1"}


def test_a_vms_addresses_over_http(make_app, sqlite_url, tiny_image, remove_vm, tmp_path):
    """The pools are the API inventory's group variables: a user's VM gets the first free address, an admin adds a
    second one, and the pools report counts both, held by the VM."""
    name = "it-api-addr"
    remove_vm.add(name)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"vmm_nodes": {
        "vars": {"vmm_ip_pools": [POOL]},
        "children": {"cluster_local": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}}}))
    app = make_app(sqlite_url, inventory=str(inventory))
    admin, alice = Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user"))

    created = alice.wait(alice.submit("vm_create", {"name": name, "image": tiny_image, "memory": 64,
                                                    "networks": [{"network": "default", "ipv4": "auto"}]})["id"])
    assert created["status"] == "successful", created
    nic = created["artifacts"]["vm"]["interfaces"][0]
    assert [a["address"] for a in nic["addresses"]] == ["10.252.0.10"], nic

    added = admin.wait(admin.submit("vm_address", {"name": name, "count": 2})["id"])
    assert added["status"] == "successful", added
    assert [a["address"] for a in added["artifacts"]["nic"]["addresses"]] == ["10.252.0.10", "10.252.0.11"]
    assert added["artifacts"]["pending_restart"] == ["addresses"]
    vm = alice.get(f"/api/v1/vms/{name}").get_json()  # the directory keeps the whole VM, with both addresses
    assert vm["owner"] == "alice" and {"10.252.0.10", "10.252.0.11"} <= set(vm["addresses"]), vm

    pools = {pool["name"]: pool for pool in admin.get("/api/v1/pools").get_json()["results"]}
    assert (pools["it-api-pool"]["used"], pools["it-api-pool"]["free"]) == (2, 1), pools
    assert {(a["address"], a["vm"]) for a in pools["it-api-pool"]["addresses"]} == {
        ("10.252.0.10", name), ("10.252.0.11", name)}


@pytest.mark.parametrize("nic", [{"network": "default", "ipv4": "10.252.0.10"},
                                 {"network": "default", "ipv6": "fd00::10"},
                                 {"routed": "203.0.113.10"}])
def test_a_user_takes_pool_addresses_but_chooses_none(api, nic):
    admin, alice = api
    key = next(k for k in ("ipv4", "ipv6", "routed") if k in nic)
    response = alice.post("/api/v1/jobs", {"operation": "vm_create",
                                           "vars": {"name": "web1", "image": "img", "networks": [nic]}})
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["field"] == f"vars.networks[0].{key}"
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0
    auto = alice.post("/api/v1/jobs", {"operation": "vm_create", "vars": {
        "name": "web1", "image": "img", "networks": [{"network": "default", "ipv4": "auto", "ipv6": "none"}]}})
    assert auto.status_code == 202, auto.get_json()
    given = admin.post("/api/v1/jobs", {"operation": "vm_create", "vars": {"name": "web2", "image": "img",
                                                                             "networks": [nic]}})
    assert given.status_code == 202, given.get_json()  # an administrator may
