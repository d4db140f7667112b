"""vmm.cloud.vm_snapshot on the real node: disks of a stopped VM, memory of a running one, limits, refusals."""

from __future__ import annotations

import libvirt

from .ansible_run import run_task
from .conftest import wait_for_console
from .test_vm import vm_args
from .test_vm_reinstall import has_mark, write_mark

SNAP = "vmm.cloud.vm_snapshot"


def names(result):
    return [snap["name"] for snap in result["snapshots"]]


def test_disk_snapshot_of_a_stopped_vm_reverts_its_disk(image, vm_name, conn):
    created = run_task("vmm.cloud.vm", vm_args(vm_name, image, disk_size=2, state="present"))["vm"]
    disk = created["disks"][0]["path"]
    take = {"vm": vm_name, "name": "clean", "description": "before the mark"}

    planned = run_task(SNAP, take, check=True, diff=True)
    assert planned["changed"] is True and names(planned) == ["clean"], planned
    assert planned["diff"] == {"before": {"snapshots": []}, "after": {"snapshots": ["clean"]}}
    assert conn.lookupByName(vm_name).snapshotNum(0) == 0  # check mode took nothing

    taken = run_task(SNAP, take)
    assert taken["changed"] is True, taken
    snap = taken["snapshot"]
    assert (snap["name"], snap["memory"], snap["state"], snap["description"]) == ("clean", False, "shutoff",
                                                                                  "before the mark")
    assert snap["created"].endswith("Z")
    assert run_task(SNAP, take)["changed"] is False  # it exists: nothing to do

    write_mark(disk)  # written after the snapshot
    assert has_mark(disk)
    reverted = run_task(SNAP, {"vm": vm_name, "name": "clean", "state": "restored"})
    assert reverted["changed"] is True and reverted["vm"]["state"] == "shutoff", reverted
    assert not has_mark(disk)

    missing = run_task(SNAP, {"vm": vm_name, "name": "nope", "state": "restored"})
    assert missing["failed"] is True and missing["field"] == "name" and "clean" in missing["msg"], missing
    with_memory = run_task(SNAP, {"vm": vm_name, "name": "mem", "memory": True})
    assert with_memory["failed"] is True and with_memory["field"] == "memory", with_memory

    gone = {"vm": vm_name, "name": "clean", "state": "absent"}
    assert run_task(SNAP, gone, check=True)["changed"] is True and conn.lookupByName(vm_name).snapshotNum(0) == 1
    deleted = run_task(SNAP, gone)
    assert deleted["changed"] is True and deleted["snapshot"] is None and deleted["snapshots"] == [], deleted
    assert run_task(SNAP, gone)["changed"] is False


def test_memory_snapshot_of_a_running_vm_brings_it_back_running(image, vm_name, conn):
    run_task("vmm.cloud.vm", vm_args(vm_name, image, state="running"))
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")

    taken = run_task(SNAP, {"vm": vm_name, "name": "booted"})
    assert taken["changed"] is True and taken["snapshot"]["memory"] is True, taken
    assert taken["snapshot"]["state"] == "running"
    disk_only = run_task(SNAP, {"vm": vm_name, "name": "disks", "memory": False})
    assert disk_only["failed"] is True and disk_only["field"] == "memory", disk_only
    assert "stop the VM" in disk_only["msg"]

    dom = conn.lookupByName(vm_name)
    dom.destroy()  # the guest is gone; the revert brings it back as it ran
    reverted = run_task(SNAP, {"vm": vm_name, "name": "booted", "state": "restored"})
    assert reverted["changed"] is True and reverted["vm"]["state"] == "running", reverted
    assert dom.isActive()


def test_a_vm_keeps_at_most_its_limit_of_snapshots(image, vm_name, conn):
    run_task("vmm.cloud.vm", vm_args(vm_name, image, state="present"))
    assert run_task(SNAP, {"vm": vm_name, "name": "one", "limit": 1})["changed"] is True
    over = run_task(SNAP, {"vm": vm_name, "name": "two", "limit": 1})
    assert over["failed"] is True and over["field"] == "name" and "may keep 1" in over["msg"], over

    # the VM's own limit (an administrator's, in its metadata) wins over the module's
    limited = run_task("vmm.cloud.vm", {"name": vm_name, "snapshot_limit": 2})
    assert limited["changed"] is True and limited["vm"]["snapshot_limit"] == 2, limited
    assert run_task("vmm.cloud.vm", {"name": vm_name, "snapshot_limit": 2})["changed"] is False
    assert run_task(SNAP, {"vm": vm_name, "name": "two", "limit": 1})["changed"] is True
    third = run_task(SNAP, {"vm": vm_name, "name": "three"})
    assert third["failed"] is True and "may keep 2" in third["msg"], third
    assert [s.getName() for s in conn.lookupByName(vm_name).listAllSnapshots(0)] != []

    # a reinstall drops them with the old disk; a delete of the VM takes them too
    reinstalled = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled"})
    assert reinstalled["changed"] is True and conn.lookupByName(vm_name).snapshotNum(0) == 0, reinstalled
    run_task(SNAP, {"vm": vm_name, "name": "again"})
    assert run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})["changed"] is True
    try:
        conn.lookupByName(vm_name)
        raise AssertionError("the VM is still defined")
    except libvirt.libvirtError:
        pass


def test_snapshot_of_a_vm_that_is_not_there():
    result = run_task(SNAP, {"vm": "it-no-such-vm", "name": "x"})
    assert result["failed"] is True and result["field"] == "vm", result
    bad = run_task(SNAP, {"vm": "it-x", "name": "../etc"})
    assert bad["failed"] is True and bad["field"] == "name", bad
