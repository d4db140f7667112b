"""A VM's disks over HTTP: reinstall (and snapshots) by their owner only, real jobs on this node."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from .conftest import Client, make_token

VM = "it-api-disks1"
PAYLOAD = "{{ lookup('pipe', 'touch /tmp/vmm-reinstall-pwned') }}"


def seed_file(vm, name):
    return subprocess.run(["isoinfo", "-R", "-i", f"/var/lib/vmm/disks/{vm}-seed.iso", "-x", f"/{name}"],
                          capture_output=True, text=True, check=True).stdout


def test_reinstall_over_http_by_its_owner_only(make_app, sqlite_url, tiny_image, remove_vm):
    remove_vm.add(VM)
    Path("/tmp/vmm-reinstall-pwned").unlink(missing_ok=True)
    app = make_app(sqlite_url)
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))
    created = alice.wait(alice.submit("vm_create", {"name": VM, "image": tiny_image, "memory": 128,
                                                    "cloud_init": {"hostname": "first"}})["id"])
    assert created["status"] == "successful", created
    vm = created["artifacts"]["vm"]

    assert bob.post("/api/v1/jobs", {"operation": "vm_reinstall", "vars": {"name": VM}}).status_code == 403
    bad = alice.post("/api/v1/jobs", {"operation": "vm_reinstall", "vars": {"name": VM, "image": "../etc/passwd"}})
    assert bad.status_code == 400 and bad.get_json()["field"] == "vars.image", bad.get_json()

    job = alice.wait(alice.submit("vm_reinstall", {"name": VM, "image": tiny_image, "cloud_init": {
        "hostname": "second", "password": PAYLOAD}})["id"])
    assert job["status"] == "successful", job
    assert job["operation"] == "vm_reinstall" and job["owner"] == "alice"
    after = job["artifacts"]["vm"]
    assert (after["uuid"], after["interfaces"][0]["mac"], after["owner"]) == (vm["uuid"], vm["interfaces"][0]["mac"],
                                                                              "alice")
    assert after["state"] == "running" and after["reinstalled"]
    assert "second" in seed_file(VM, "meta-data")
    assert PAYLOAD in seed_file(VM, "user-data")  # the literal text, never a template
    assert not Path("/tmp/vmm-reinstall-pwned").exists()
    listed = alice.get(f"/api/v1/vms/{VM}").get_json()
    assert listed["state"] == "running" and [j["id"] for j in listed["jobs"]] == [job["id"], created["id"]]


def test_snapshots_over_http_by_their_owner_only(make_app, sqlite_url, tiny_image, remove_vm):
    vm = "it-api-snap1"
    remove_vm.add(vm)
    app = make_app(sqlite_url)
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))
    created = alice.wait(alice.submit("vm_create", {"name": vm, "image": tiny_image, "memory": 128})["id"])
    assert created["status"] == "successful", created
    assert alice.get(f"/api/v1/vms/{vm}/snapshots").get_json() == {"vm": vm, "count": 0, "results": [],
                                                                    "known": False}

    assert bob.post("/api/v1/jobs", {"operation": "vm_snapshot", "vars": {"name": vm, "snapshot": "s1"}}
                    ).status_code == 403
    assert bob.get(f"/api/v1/vms/{vm}/snapshots").status_code == 404
    for bad in ("../x", "a'b", "<s/>", "$(id)"):
        answer = alice.post("/api/v1/jobs", {"operation": "vm_snapshot", "vars": {"name": vm, "snapshot": bad}})
        assert answer.status_code == 400 and answer.get_json()["field"] == "vars.snapshot", (bad, answer.get_json())

    taken = alice.wait(alice.submit("vm_snapshot", {"name": vm, "snapshot": "s1", "description": PAYLOAD})["id"])
    assert taken["status"] == "successful", taken
    listed = alice.get(f"/api/v1/vms/{vm}/snapshots").get_json()
    assert listed["count"] == 1 and listed["known"] is True, listed
    snap = listed["results"][0]
    assert (snap["name"], snap["memory"], snap["state"], snap["description"]) == ("s1", True, "running", PAYLOAD)

    refused = alice.wait(alice.submit("vm_snapshot", {"name": vm, "snapshot": "s2", "memory": False})["id"])
    assert refused["status"] == "failed" and refused["failed_task"]["field"] == "memory", refused

    restored = alice.wait(alice.submit("vm_snapshot", {"name": vm, "snapshot": "s1", "state": "restored"})["id"])
    assert restored["status"] == "successful" and restored["artifacts"]["vm"]["state"] == "running", restored
    deleted = alice.wait(alice.submit("vm_snapshot", {"name": vm, "snapshot": "s1", "state": "absent"})["id"])
    assert deleted["status"] == "successful", deleted
    assert alice.get(f"/api/v1/vms/{vm}/snapshots").get_json()["count"] == 0


def test_backups_over_http_with_their_progress_in_the_events(make_app, sqlite_url, tiny_image, remove_vm, tmp_path):
    vm, copy = "it-api-backup1", "it-api-backup1-copy"
    remove_vm.add(vm)
    remove_vm.add(copy)
    store = tmp_path / "backups"
    inventory = tmp_path / "hosts.yml"  # this node, its backups in the test's own store
    inventory.write_text(json.dumps({"all": {"children": {"vmm_nodes": {
        "vars": {"vmm_backup_store": str(store)},
        "children": {"cluster_local": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}}}))
    app = make_app(sqlite_url, inventory=str(inventory))
    admin = Client(app, make_token(app, "admin", "admin"))
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))
    created = alice.wait(alice.submit("vm_create", {"name": vm, "image": tiny_image, "memory": 128})["id"])
    assert created["status"] == "successful", (created["failed_task"], created["job_explanation"])

    assert bob.post("/api/v1/jobs", {"operation": "vm_backup", "vars": {"name": vm}}).status_code == 403
    path = alice.post("/api/v1/jobs", {"operation": "vm_backup", "vars": {"name": vm, "store": "/etc"}})
    assert path.status_code == 400, path.get_json()  # the store is the inventory's, never a client's

    job = alice.wait(alice.submit("vm_backup", {"name": vm, "backup": "first", "keep": 3})["id"], timeout=300)
    assert job["status"] == "successful", job
    events = alice.get(f"/api/v1/jobs/{job['id']}/events?page_size=200").get_json()["results"]
    follow = [e for e in events if e["event"] in ("runner_on_ok", "runner_retry")
              and e["event_data"].get("task") == "Follow the backup (each retry shows its progress)"]
    assert follow and "running" in follow[-1]["event_data"]["res"], follow
    assert (store / vm / "first" / "vda.qcow2").is_file()
    listed = alice.get(f"/api/v1/vms/{vm}/backups").get_json()
    assert listed["count"] == 1 and listed["results"][0]["name"] == "first", listed
    assert listed["results"][0]["consistency"] == "crash" and listed["results"][0]["size"] > 0
    assert bob.get(f"/api/v1/vms/{vm}/backups").status_code == 404

    restored = alice.wait(alice.submit("vm_restore", {"name": vm})["id"], timeout=300)
    assert restored["status"] == "successful" and restored["artifacts"]["vm"]["state"] == "running", restored
    as_new = alice.post("/api/v1/jobs", {"operation": "vm_restore", "vars": {"name": vm, "restore_as": copy}})
    assert as_new.status_code == 403 and as_new.get_json()["field"] == "vars.restore_as"
    made = admin.wait(admin.submit("vm_restore", {"name": vm, "restore_as": copy, "owner": "alice"})["id"],
                      timeout=300)
    assert made["status"] == "successful", made
    assert alice.get(f"/api/v1/vms/{copy}").get_json()["owner"] == "alice"


def test_backup_policies_are_run_by_the_api_at_their_times(make_app, sqlite_url, tiny_image, remove_vm, tmp_path):
    vm = "it-api-policy1"
    remove_vm.add(vm)
    app = make_app(sqlite_url, backup_interval=0.3)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))
    assert alice.wait(alice.submit("vm_create", {"name": vm, "image": tiny_image, "memory": 128})["id"]
                      )["status"] == "successful"

    assert bob.post("/api/v1/backup_policies", {"vm": vm, "every": 86400, "keep": 7}).status_code == 403
    assert bob.post("/api/v1/backup_policies", {"cluster": "local", "every": 86400, "keep": 7}).status_code == 403
    for bad, field in (({"vm": vm, "every": 5, "keep": 7}, "every"), ({"vm": vm, "every": 3600, "keep": 0}, "keep"),
                       ({"vm": "../x", "every": 3600, "keep": 1}, "vm"),
                       ({"vm": vm, "cluster": "local", "every": 3600, "keep": 1}, "cluster"),
                       ({"vm": vm, "every": 3600, "keep": 1, "store": "/etc"}, "store")):
        answer = alice.post("/api/v1/backup_policies", bad)
        assert answer.status_code == 400 and answer.get_json()["field"] == field, (bad, answer.get_json())

    made = alice.post("/api/v1/backup_policies", {"vm": vm, "every": 86400, "keep": 2})
    assert made.status_code == 201, made.get_json()
    policy = made.get_json()
    deadline = time.monotonic() + 60
    while not alice.get(f"/api/v1/backup_policies/{policy['id']}").get_json()["last_jobs"]:
        assert time.monotonic() < deadline, "the policy never ran"
        time.sleep(0.3)
    ran = alice.get(f"/api/v1/backup_policies/{policy['id']}").get_json()
    [job_id] = ran["last_jobs"]
    job = alice.wait(job_id, timeout=300)
    assert job["status"] == "successful" and job["operation"] == "vm_backup", job
    assert (job["launched_by"], job["owner"], job["vars"]) == ("scheduler", "alice", {"name": vm, "keep": 2})
    assert ran["next_run"] > ran["last_run"]  # a day later: it does not run again now
    time.sleep(1)
    assert alice.get(f"/api/v1/backup_policies/{policy['id']}").get_json()["last_jobs"] == [job_id]
    assert alice.get(f"/api/v1/vms/{vm}/backups").get_json()["count"] == 1

    assert bob.get("/api/v1/backup_policies").get_json()["count"] == 0
    assert bob.delete(f"/api/v1/backup_policies/{policy['id']}").status_code == 404
    assert admin.get("/api/v1/backup_policies").get_json()["count"] == 1
    assert alice.delete(f"/api/v1/backup_policies/{policy['id']}").status_code == 204
    assert alice.get(f"/api/v1/backup_policies/{policy['id']}").status_code == 404
    for backup in alice.get(f"/api/v1/vms/{vm}/backups").get_json()["results"]:
        admin.wait(admin.submit("vm_backup", {"name": vm, "backup": backup["name"], "state": "absent"})["id"])


def test_data_disks_over_http_for_administrators(make_app, sqlite_url, tiny_image, remove_vm):
    vm = "it-api-disk1"
    remove_vm.add(vm)
    app = make_app(sqlite_url)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice = Client(app, make_token(app, "alice", "user"))
    assert alice.wait(alice.submit("vm_create", {"name": vm, "image": tiny_image, "memory": 128})["id"]
                      )["status"] == "successful"
    assert alice.post("/api/v1/jobs", {"operation": "vm_disk", "vars": {"name": vm, "disk": "data", "size": 1}}
                      ).status_code == 403
    bad = admin.post("/api/v1/jobs", {"operation": "vm_disk", "vars": {"name": vm, "disk": "a b", "size": 1}})
    assert bad.status_code == 400 and bad.get_json()["field"] == "vars.disk", bad.get_json()

    added = admin.wait(admin.submit("vm_disk", {"name": vm, "disk": "data", "size": 1})["id"])
    assert added["status"] == "successful" and added["owner"] == "alice", added
    assert [d["target"] for d in added["artifacts"]["vm"]["disks"]] == ["vda", "vdb", "vdc"]
    assert Path(f"/var/lib/vmm/disks/{vm}-data.qcow2").is_file()
    removed = admin.wait(admin.submit("vm_disk", {"name": vm, "disk": "data", "state": "absent"})["id"])
    assert removed["status"] == "successful", removed
    assert not Path(f"/var/lib/vmm/disks/{vm}-data.qcow2").exists()
