"""vmm.cloud.vm_backup on the real node: backups of running and stopped VMs, retention, restore, checksums."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import libvirt
import pytest

from .ansible_run import run_task
from .conftest import PREFIX, wait_for_console
from .test_vm import vm_args
from .test_vm_reinstall import has_mark, write_mark

BACKUP = "vmm.cloud.vm_backup"


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "backups")


def names(result):
    return [backup["name"] for backup in result["backups"]]


def qemu_info(path):
    return json.loads(subprocess.run(["qemu-img", "info", "--output", "json", path], capture_output=True,
                                     check=True).stdout)


def test_backup_of_a_running_vm_is_whole_compressed_and_checksummed(image, vm_name, conn, store):
    created = run_task("vmm.cloud.vm", vm_args(vm_name, image, disk_size=2, state="running"))["vm"]
    wait_for_console(created["console_log"], "VMM-BOOT-OK")
    args = {"vm": vm_name, "backup": "b1", "store": store}

    planned = run_task(BACKUP, args, check=True)
    assert planned["changed"] is True and names(planned) == ["b1"], planned
    assert not Path(store, vm_name, "b1").exists()

    taken = run_task(BACKUP, args)
    assert taken["changed"] is True and taken["consistency"] == "crash", taken  # the busybox guest has no agent
    backup = taken["backup"]
    assert (backup["vm"], backup["uuid"], backup["vm_state"]) == (vm_name, created["uuid"], "running")
    folder = Path(store, vm_name, "b1")
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "backup.json", "domain.xml", "vda.qcow2"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and "vda.qcow2: OK" in check.stdout, check
    info = qemu_info(str(folder / "vda.qcow2"))
    assert info["virtual-size"] == 2 * 1024 ** 3 and "backing-filename" not in info, info  # whole
    assert backup["disks"][0]["size"] < Path(created["disks"][0]["path"]).stat().st_size + qemu_info(
        f"/var/lib/vmm/images/{image}.qcow2")["actual-size"]  # compressed: less than overlay + image
    assert conn.lookupByName(vm_name).isActive()  # never stopped
    assert not list(Path("/var/lib/vmm/disks").glob(f"{vm_name}*scratch*"))
    assert run_task(BACKUP, args)["changed"] is False

    listed = run_task("vmm.cloud.vm_backup_info", {"vm": vm_name, "store": store})
    assert [b["name"] for b in listed["backups"]] == ["b1"] and listed["in_progress"] is False, listed


def test_restore_retention_and_a_damaged_backup(image, vm_name, conn, store):
    created = run_task("vmm.cloud.vm", vm_args(vm_name, image, disk_size=2, owner="alice", state="present"))["vm"]
    disk = created["disks"][0]["path"]
    assert run_task(BACKUP, {"vm": vm_name, "backup": "clean", "store": store})["consistency"] == "stopped"
    write_mark(disk)
    assert run_task(BACKUP, {"vm": vm_name, "backup": "marked", "store": store})["changed"] is True

    restored = run_task(BACKUP, {"vm": vm_name, "backup": "clean", "store": store, "state": "restored"})
    assert restored["changed"] is True and restored["restored"] == "clean", restored
    assert not has_mark(disk) and restored["vm"]["state"] == "shutoff"
    latest = run_task(BACKUP, {"vm": vm_name, "store": store, "state": "restored"})  # the newest: marked
    assert latest["restored"] == "marked" and has_mark(disk), latest

    copy = f"{vm_name}-copy"
    try:
        made = run_task(BACKUP, {"vm": vm_name, "backup": "marked", "store": store, "state": "restored",
                                 "restore_as": copy})
        assert made["changed"] is True and made["restored_as"] == copy, made
        vm = made["vm"]
        assert (vm["name"], vm["state"], vm["owner"]) == (copy, "running", "alice")
        assert vm["uuid"] != created["uuid"] and vm["interfaces"][0]["mac"] != created["interfaces"][0]["mac"]
        conn.lookupByName(copy).destroy()
        assert has_mark(vm["disks"][0]["path"])
        again = run_task(BACKUP, {"vm": vm_name, "store": store, "state": "restored", "restore_as": copy})
        assert again["failed"] is True and again["field"] == "restore_as", again
    finally:
        run_task("vmm.cloud.vm", {"name": copy, "state": "absent"})

    kept = run_task(BACKUP, {"vm": vm_name, "backup": "third", "store": store, "keep": 2})
    assert kept["changed"] is True and names(kept) == ["marked", "third"], kept
    assert run_task(BACKUP, {"vm": vm_name, "backup": "third", "store": store, "keep": 2})["changed"] is False

    with open(Path(store, vm_name, "marked", "vda.qcow2"), "r+b") as handle:  # a bit flipped in the store
        handle.seek(70000)
        byte = handle.read(1)
        handle.seek(70000)
        handle.write(bytes([byte[0] ^ 1]))
    xml = conn.lookupByName(vm_name).XMLDesc(0)
    damaged = run_task(BACKUP, {"vm": vm_name, "backup": "marked", "store": store, "state": "restored"})
    assert damaged["failed"] is True and damaged["field"] == "backup" and "SHA-256" in damaged["msg"], damaged
    assert conn.lookupByName(vm_name).XMLDesc(0) == xml and has_mark(disk)

    gone = {"vm": vm_name, "backup": "marked", "store": store, "state": "absent"}
    assert run_task(BACKUP, gone)["changed"] is True and run_task(BACKUP, gone)["changed"] is False
    missing = run_task(BACKUP, {"vm": vm_name, "backup": "marked", "store": store, "state": "restored"})
    assert missing["failed"] is True and missing["field"] == "backup" and "third" in missing["msg"], missing


def test_bad_backup_input_is_refused(store):
    for args, field in (({"vm": "../x"}, "vm"), ({"vm": f"{PREFIX}x", "backup": "a/b"}, "backup"),
                        ({"vm": f"{PREFIX}x", "store": "relative/dir"}, "store"),
                        ({"vm": f"{PREFIX}x", "store": "/tmp/../etc"}, "store"),
                        ({"vm": f"{PREFIX}x", "state": "absent"}, "backup"),
                        ({"vm": f"{PREFIX}x", "restore_as": "y"}, "restore_as"),
                        ({"vm": f"{PREFIX}no-such-vm", "store": store}, "vm")):
        result = run_task(BACKUP, {"store": store, **args})
        assert result["failed"] is True and result["field"] == field, (args, result)
    assert not Path(store).exists() or not any(Path(store).iterdir())


def test_vm_delete_keeps_the_backups(image, vm_name, store):
    run_task("vmm.cloud.vm", vm_args(vm_name, image, state="present"))
    run_task(BACKUP, {"vm": vm_name, "backup": "b1", "store": store})
    run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    assert Path(store, vm_name, "b1", "backup.json").is_file()
    try:
        back = run_task(BACKUP, {"vm": vm_name, "store": store, "state": "restored", "restore_as": vm_name})
        assert back["changed"] is True and back["vm"]["name"] == vm_name, back
    finally:
        run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    with pytest.raises(libvirt.libvirtError):
        libvirt.open("qemu:///system").lookupByName(vm_name)
