"""Quotas per user: set by admins (HTTP and CLI), summed from the VM directory and unfinished creates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from api.config import ROOT
from api.directory import vm_row
from api.store import utcnow

from .conftest import Client, make_token


@pytest.fixture
def api(make_app, database):
    app = make_app(database, workers=0)  # jobs stay queued: they count as unfinished creates
    store = app.extensions["vmm"].store
    store.record_vm(vm_row({"name": "a1", "owner": "alice", "state": "running", "vcpus": 1, "memory": 512,
                            "disk_size": 2.0}, "n1", utcnow()))
    return (app, Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user")),
            Client(app, make_token(app, "bob", "user")))


def _create(client, name, expect=202, **variables):
    response = client.post("/api/v1/jobs", {"operation": "vm_create", "vars": {"name": name, "image": "img",
                                                                              **variables}})
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_quotas_refuse_what_would_go_past_them(api):
    _, admin, alice, bob = api
    assert alice.get("/api/v1/users/alice/quota").get_json()["quota"] == {"vms": None, "vcpus": None, "memory": None,
                                                                         "disk": None}
    for body, field in (({"vms": -1}, "vms"), ({"vms": "3"}, "vms"), ({"vms": True}, "vms"), ({"cpus": 1}, "cpus"),
                        ([1], "body")):
        response = admin.http.put("/api/v1/users/alice/quota", headers=admin.headers, json=body)
        assert response.status_code == 400 and response.get_json()["field"] == field, (body, response.get_json())
    assert alice.http.put("/api/v1/users/alice/quota", headers=alice.headers, json={"vms": 9}).status_code == 403
    assert bob.get("/api/v1/users/alice/quota").status_code == 403

    report = admin.http.put("/api/v1/users/alice/quota", headers=admin.headers,
                            json={"vms": 3, "vcpus": 4, "memory": 1536, "disk": None}).get_json()
    assert report["used"] == {"vms": 1, "vcpus": 1, "memory": 512, "disk": 2.0}
    assert report["left"] == {"vms": 2, "vcpus": 3, "memory": 1024, "disk": None}

    _create(alice, "a2", memory=512)  # queued: counts from now on
    refused = _create(alice, "a3", expect=403, memory=1024)
    assert refused["field"] == "vars.memory"
    assert refused["detail"] == "Quota: this asks 1024 more MiB of memory; alice uses 1024 of 1536, 512 left."
    refused = _create(alice, "a3", expect=403, vcpus=4)
    assert refused["field"] == "vars.vcpus" and "3 left" not in refused["detail"] and "2 left" in refused["detail"]
    _create(alice, "a3", memory=256)
    refused = _create(alice, "a4", expect=403, memory=16)
    assert refused["field"] == "vars.name" and "3 of 3, 0 left" in refused["detail"]

    # new sizes for a VM she has count by what they add
    assert _create(alice, "a1", expect=403, memory=1024)["field"] == "vars.memory"
    _create(alice, "a1", memory=768, vcpus=1)
    _create(bob, "b1", memory=4096)  # bob has no quota
    _create(admin, "a5", owner="alice", memory=4096)  # administrators may go past a user's quota
    assert alice.get("/api/v1/users/alice/quota").get_json()["used"]["vms"] == 4


def test_concurrent_creates_cannot_share_the_last_slot(api):
    app, admin, _, _ = api
    admin.http.put("/api/v1/users/alice/quota", headers=admin.headers, json={"vms": 4})
    token = make_token(app, "alice", "user")
    codes = []

    def submit(number):
        client = Client(app, token)
        codes.append(client.post("/api/v1/jobs", {"operation": "vm_create",
                                                  "vars": {"name": f"race{number}", "image": "img"}}).status_code)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202] * 3 + [403] * 5


def test_quota_from_the_command_line(api, database):
    app, admin, _, _ = api
    env = {"VMM_API_DATABASE": database, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "api", "quota"]
    out = subprocess.run([*command, "set", "--user", "alice", "--vms", "2", "--memory", "2048"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["quota"] == {"vms": 2, "vcpus": None, "memory": 2048, "disk": None}
    subprocess.run([*command, "set", "--user", "alice", "--vms", "none"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    assert admin.get("/api/v1/users/alice/quota").get_json()["quota"] == {"vms": None, "vcpus": None,
                                                                         "memory": 2048, "disk": None}
    bad = subprocess.run([*command, "set", "--user", "alice", "--vms", "-3"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2 and "--vms" in bad.stderr
