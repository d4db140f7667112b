"""A VM's disks over HTTP: reinstall (and snapshots) by their owner only, real jobs on this node."""

from __future__ import annotations

import subprocess
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
