"""The cluster operations through the jobs API on the lab, and the HA watcher turning a dead node into a job."""

from __future__ import annotations

import pytest

from tests.lab.conftest import LAB_DIR, lab, running_api, wait_for


@pytest.fixture
def api(cluster, tmp_path):
    with running_api(cluster.inventory, tmp_path, ha_interval=1.0) as api:
        yield api


def test_disks_of_lab_vms_through_the_api_and_a_backup_restored_on_another_node(cluster, api):
    """Snapshot, reinstall and back up a lab VM over HTTP; its backup, on the share, becomes a VM on another node."""
    job = api.ok(api.submit("vm_create", {"name": "apidisk1", "image": "tiny", "memory": 128, "cluster": "lab"}))
    home = job["artifacts"]["node"]
    other = next(node for node in cluster.nodes("lab") if node != home)

    api.ok(api.submit("vm_snapshot", {"name": "apidisk1", "snapshot": "s1"}))
    assert [s["name"] for s in api.vm_records("apidisk1", "snapshots")] == ["s1"]
    job = api.ok(api.submit("vm_reinstall", {"name": "apidisk1"}))
    assert job["artifacts"]["node"] == home and job["artifacts"]["vm"]["reinstalled"]
    assert api.vm_records("apidisk1", "snapshots") == []  # they lived in the old disk

    api.ok(api.submit("vm_backup", {"name": "apidisk1", "backup": "b1"}), timeout=600)
    assert (LAB_DIR / "shared" / "backups" / "apidisk1" / "b1" / "SHA256SUMS").is_file()
    assert [b["name"] for b in api.vm_records("apidisk1", "backups")] == ["b1"]
    job = api.ok(api.submit("vm_restore", {"name": "apidisk1", "backup": "b1", "restore_as": "apidisk1-copy",
                                           "node": other}), timeout=600)
    assert job["artifacts"]["node"] == other and job["artifacts"]["vm"]["state"] == "running", job["artifacts"]
    assert cluster.where("apidisk1-copy") == [other] and cluster.where("apidisk1") == [home]

    for name in ("apidisk1", "apidisk1-copy"):
        api.ok(api.submit("vm_delete", {"name": name}))
        assert cluster.where(name) == []


def test_cluster_operations_and_ha_through_the_api(cluster, api):
    names = {op["name"] for op in api.client.get("/api/v1/operations", headers=api.headers).get_json()["results"]}
    assert {"node_bootstrap", "vm_migrate", "node_drain", "cluster_heal"} <= names

    job = api.ok(api.submit("vm_create", {"name": "apiha1", "image": "tiny", "memory": 128, "ha": True,
                                               "cluster": "lab"}))
    home = job["artifacts"]["node"]
    assert cluster.where("apiha1") == [home]
    other = next(node for node in cluster.nodes("lab") if node != home)

    job = api.ok(api.submit("vm_migrate", {"name": "apiha1", "target": other}))
    assert job["target"] == "vm:apiha1"
    assert [(m["name"], m["from"], m["to"]) for m in job["artifacts"]["moves"]] == [("apiha1", home, other)]
    assert cluster.where("apiha1") == [other]

    job = api.ok(api.submit("node_drain", {"node": home, "maintenance": True}))
    assert job["target"] == f"node:{home}"
    api.ok(api.submit("node_drain", {"node": home, "maintenance": False}))

    # The node dies; the watcher notices on its own and runs cluster_heal as a job.
    lab("fault", other, "power")
    try:
        heal = wait_for(lambda: api.jobs(operation="cluster_heal", launched_by="ha-watcher"), timeout=60,
                        what="the HA watcher's cluster_heal job")[0]
        job = api.ok(heal["id"])
        stdout = api.stdout(heal["id"])
        assert job["launched_by"] == "ha-watcher"
        # Every HA VM of the dead node comes back (earlier tests may have left one there too).
        (restart,) = [r for r in job["artifacts"]["restarted"] if r["name"] == "apiha1"]
        assert restart["from"] == other
        assert all(r["from"] == other and r["to"] != other for r in job["artifacts"]["restarted"])
        assert f"HA: restarted apiha1 on {restart['to']}: its node {other} is dead" in stdout
        assert cluster.where("apiha1") == [restart["to"]]
    finally:
        lab("heal", other)
    # Back again: the watcher runs cluster_heal once more, which releases the stale copy.
    wait_for(lambda: len(api.jobs(operation="cluster_heal", launched_by="ha-watcher")) == 2, timeout=60,
             what="the second cluster_heal job")
    second = api.jobs(operation="cluster_heal", launched_by="ha-watcher")[0]
    job = api.ok(second["id"])
    assert "apiha1" in [r["name"] for r in job["artifacts"]["released"]]
    assert cluster.where("apiha1") == [restart["to"]]

    api.ok(api.submit("vm_delete", {"name": "apiha1"}))
    assert cluster.where("apiha1") == []
