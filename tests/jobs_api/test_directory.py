"""The VM directory: kept from jobs' artifacts, reconciled by inventory_sync, read without asking any node."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest

from api.config import ROOT
from api.directory import Directory, vm_row
from api.store import Store, utcnow
from integration.ansible_run import run_task

from .conftest import Client, make_token


def _vm(name, owner="alice", state="running", **facts):
    return {"name": name, "uuid": f"uuid-{name}", "owner": owner, "state": state, "vcpus": 1, "memory": 128,
            "disk_size": 1.0, "ips": ["192.0.2.5"], "image": "img", "cluster": "c1", "ha": False, **facts}


@pytest.fixture
def store(database):
    store = Store(database)
    store.create_schema()
    yield store
    store.dispose()


def _job(operation, started=None, **variables):
    return {"operation": operation, "vars": variables, "started": started or utcnow()}


def test_jobs_keep_the_directory(store):
    directory = Directory(store)
    directory.record_job(_job("vm_create", name="a"), "successful", {"vm": _vm("a"), "node": "n1"})
    directory.record_job(_job("vm_create", name="b"), "successful", {"vm": _vm("b", owner="bob"), "node": "n2"})
    assert store.get_vm("a")["node"] == "n1" and store.get_vm("a")["addresses"] == ["192.0.2.5"]
    assert store.usage("alice") == {"vms": 1, "vcpus": 1, "memory": 128, "disk": 1.0}

    directory.record_job(_job("vm_stop", name="a"), "successful", {"vm": _vm("a", state="shutoff"), "node": "n1"})
    directory.record_job(_job("vm_migrate", name="b"), "successful",
                         {"moves": [{"name": "b", "from": "n2", "to": "n3"}]})
    directory.record_job(_job("cluster_heal"), "successful", {"restarted": [{"name": "a", "from": "n1", "to": "n2"}]})
    assert (store.get_vm("a")["state"], store.get_vm("a")["node"], store.get_vm("b")["node"]) == ("shutoff", "n2", "n3")

    directory.record_job(_job("vm_delete", name="a"), "failed", {})
    assert store.get_vm("a") is not None  # a delete that failed took nothing away
    directory.record_job(_job("vm_delete", name="a"), "successful", {})
    assert store.get_vm("a") is None
    assert store.list_vms({}, visible_to="bob")[0] == 1 and store.list_vms({"owner": "alice"})[0] == 0


def test_a_sync_reconciles_and_a_silent_node_blocks_nobody(store):
    directory = Directory(store)
    before = utcnow() - timedelta(seconds=5)
    for name, node in (("gone", "n1"), ("kept", "n1"), ("on-silent", "n2"), ("moved", "n1")):
        store.record_vm(vm_row(_vm(name), node, before))
    sync_started = utcnow()
    directory.record_job(_job("vm_create", name="fresh"), "successful", {"vm": _vm("fresh"), "node": "n1"})
    report = {"n1": {"ok": True, "vms": [_vm("kept", state="paused", disk_size=None), _vm("new", owner="carol"),
                                         _vm("twin", state="shutoff")]},
              "n2": {"ok": False, "error": "no answer", "vms": []},
              "n3": {"ok": True, "vms": [_vm("moved"), _vm("twin", state="running")]}}
    directory.record_job(_job("inventory_sync", started=sync_started), "successful", {"directory": report})

    assert store.get_vm("gone") is None  # n1 answered without it
    assert store.get_vm("fresh") is not None  # made while the look ran: not judged by it
    assert (store.get_vm("kept")["state"], store.get_vm("kept")["disk_size"]) == ("paused", 1.0)  # size kept
    assert store.get_vm("new")["owner"] == "carol"
    assert store.get_vm("moved")["node"] == "n3"
    assert (store.get_vm("twin")["node"], store.get_vm("twin")["state"]) == ("n3", "running")  # the live copy
    assert store.get_vm("on-silent")["state"] == "unknown" and store.get_vm("on-silent")["node"] == "n2"


def _inventory(tmp_path):
    """This machine as a node, and a node whose SSH and libvirt never answer."""
    path = tmp_path / "nodes.yml"
    path.write_text(
        "all:\n  children:\n    vmm_nodes:\n      hosts:\n"
        "        localhost: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}\n"
        "        deadnode: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_python_interpreter: /usr/bin/python3,\n"
        "                   vmm_libvirt_uri: 'qemu+ssh://root@127.0.0.1:1/system?no_tty=1'}\n")
    return str(path)


OUTSIDE = "it-dir-outside"


@pytest.fixture
def outside_vm(tiny_image, remove_vm):
    """A VM made without the API (as AWX or a person would), owned by carol."""
    remove_vm.add(OUTSIDE)
    result = run_task("vmm.cloud.vm", {"name": OUTSIDE, "image": tiny_image, "memory": 128, "owner": "carol",
                                       "state": "present"})
    assert result.get("changed") and not result.get("failed"), result
    return OUTSIDE


def test_inventory_sync_reads_every_node(make_app, sqlite_url, tmp_path, outside_vm):
    app = make_app(sqlite_url, inventory=_inventory(tmp_path))
    store = app.extensions["vmm"].store
    store.record_vm(vm_row(_vm("it-dir-ghost"), "deadnode", utcnow()))
    admin, alice, carol = (Client(app, make_token(app, user, role))
                           for user, role in (("admin", "admin"), ("alice", "user"), ("carol", "user")))
    assert alice.post("/api/v1/jobs", {"operation": "inventory_sync"}).status_code == 403

    # before any sync the directory does not know carol's VM: alice may ask for the name, but it stays carol's
    taken = alice.wait(alice.submit("vm_create", {"name": outside_vm, "image": "it-tiny", "memory": 128})["id"],
                       timeout=300)
    assert taken["status"] == "failed" and "is not alice's" in taken["job_explanation"], taken["job_explanation"]

    synced = admin.wait(admin.submit("inventory_sync")["id"], timeout=300)
    assert synced["status"] == "successful", synced["job_explanation"]
    vm = carol.get(f"/api/v1/vms/{outside_vm}").get_json()
    assert (vm["owner"], vm["node"], vm["state"], vm["memory"]) == ("carol", "localhost", "shutoff", 128)
    assert admin.get("/api/v1/vms/it-dir-ghost").get_json()["state"] == "unknown"
    nodes = {node["name"]: node for node in admin.get("/api/v1/nodes").get_json()["results"]}
    assert nodes["localhost"]["reachable"] and nodes["localhost"]["memory_total"] > 0 and nodes["localhost"]["cpus"]
    assert nodes["deadnode"]["reachable"] is False and not nodes["deadnode"]["health"]["ok"]
    assert alice.get("/api/v1/nodes").status_code == 403

    # ownership comes from the directory: alice cannot take carol's VM; nothing asks the dead node
    response = alice.post("/api/v1/jobs", {"operation": "vm_create", "vars": {"name": outside_vm, "image": "x"}})
    assert response.status_code == 403
    assert alice.get(f"/api/v1/vms/{outside_vm}").status_code == 404

    assert not run_task("vmm.cloud.vm", {"name": outside_vm, "state": "absent"}).get("failed")
    again = admin.wait(admin.submit("inventory_sync")["id"], timeout=300)
    assert again["status"] == "successful", again["job_explanation"]
    assert carol.get(f"/api/v1/vms/{outside_vm}").status_code == 404


def test_the_schedule_runs_one_sync_at_a_time(make_app, sqlite_url):
    app = make_app(sqlite_url, sync_interval=0.5)
    admin = Client(app, make_token(app, "admin", "admin"))
    deadline = time.monotonic() + 240
    while True:
        done = [job for job in admin.get("/api/v1/jobs?operation=inventory_sync&page_size=50").get_json()["results"]
                if job["status"] == "successful"]
        if len(done) >= 2:
            break
        assert time.monotonic() < deadline, admin.get("/api/v1/jobs").get_json()
        time.sleep(0.5)
    app.extensions["vmm"].sync.stop()
    jobs = sorted(admin.get("/api/v1/jobs?operation=inventory_sync&page_size=50").get_json()["results"],
                  key=lambda job: job["id"])
    assert all(job["launched_by"] == "scheduler" for job in jobs)
    for earlier, later in zip(jobs, jobs[1:], strict=False):
        assert earlier["finished"] and later["created"] >= earlier["finished"]  # never two at once


def test_the_api_imports_nothing_that_talks_to_libvirt(tmp_path):
    code = f"""
import sys
from api import create_app
from api.config import Settings
app = create_app(Settings(database="sqlite:///{tmp_path}/vmm.db", data_dir="{tmp_path}", workers=0, ha_interval=0))
store = app.extensions["vmm"].store
token = store.create_token(store.ensure_user("alice", "user")["id"])
client = app.test_client()
assert client.get("/api/v1/vms", headers={{"Authorization": "Bearer " + token}}).status_code == 200
assert client.post("/api/v1/jobs", headers={{"Authorization": "Bearer " + token}},
                   json={{"operation": "vm_stop", "vars": {{"name": "nope"}}}}).status_code == 403
print(sorted(name for name in sys.modules if "libvirt" in name or name.startswith("lxml")
             or name.endswith(("domain_xml", "vm_service", "migration"))))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
