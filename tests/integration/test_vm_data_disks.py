"""vmm.cloud.vm disks: data disks added, attached live, grown, kept across reinstall, removed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import libvirt

from .ansible_run import run_task
from .conftest import wait_for_console
from .test_vm import vm_args
from .test_vm_reinstall import has_mark, write_mark

GIB = 1024 ** 3


def size_of(path):
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output", "json", str(path)], capture_output=True,
                                     check=True).stdout)["virtual-size"]


def targets(dom, flags=0):
    from lxml import etree

    return {d.find("target").get("dev"): d.find("source").get("file")
            for d in etree.fromstring(dom.XMLDesc(flags)).iterfind("devices/disk")}


def test_data_disks_added_live_grown_kept_across_reinstall_and_removed(image, vm_name, conn):
    data = Path(f"/var/lib/vmm/disks/{vm_name}-data.qcow2")
    logs = Path(f"/var/lib/vmm/disks/{vm_name}-logs.qcow2")
    args = vm_args(vm_name, image, state="running", disks=[{"name": "data", "size": 1}])
    created = run_task("vmm.cloud.vm", args)
    assert created["changed"] is True, created
    dom = conn.lookupByName(vm_name)
    assert targets(dom)["vdc"] == str(data) and size_of(data) == GIB
    assert run_task("vmm.cloud.vm", args)["changed"] is False
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")

    both = dict(args, disks=[{"name": "data", "size": 1}, {"name": "logs", "size": 1}])
    planned = run_task("vmm.cloud.vm", both, check=True)
    assert planned["changed"] is True and not logs.exists(), planned
    added = run_task("vmm.cloud.vm", both)
    assert added["changed"] is True and "disks" in added["update"]["applied_live"], added
    assert targets(dom)["vdd"] == str(logs)  # in the running guest
    assert targets(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)["vdd"] == str(logs)  # and in its definition
    assert run_task("vmm.cloud.vm", both)["changed"] is False

    grown = run_task("vmm.cloud.vm", dict(args, disks=[{"name": "data", "size": 2}]))
    assert grown["changed"] is True and size_of(data) == 2 * GIB, grown
    shrink = run_task("vmm.cloud.vm", dict(args, disks=[{"name": "data", "size": 1}]))
    assert shrink["failed"] is True and shrink["field"] == "disks", shrink
    args["disks"] = [{"name": "data", "size": 2}]

    run_task("vmm.cloud.vm", dict(args, state="stopped", shutdown_timeout=0))
    write_mark(data)
    inode = data.stat().st_ino
    reinstalled = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled"})
    assert reinstalled["changed"] is True, reinstalled
    assert data.stat().st_ino == inode and has_mark(data)  # the data disk is the same, with what it held
    run_task("vmm.cloud.vm", dict(args, state="stopped", shutdown_timeout=0))

    removed = run_task("vmm.cloud.vm", dict(args, state="stopped", disks=[{"name": "logs", "state": "absent"}]))
    assert removed["changed"] is True and not logs.exists() and "vdd" not in targets(dom), removed
    assert data.exists() and run_task("vmm.cloud.vm", dict(args, state="stopped", disks=[
        {"name": "logs", "state": "absent"}]))["changed"] is False

    bad = run_task("vmm.cloud.vm", dict(args, disks=[{"name": "../x", "size": 1}]))
    assert bad["failed"] is True and bad["field"] == "disks[0].name", bad
    deleted = run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    assert deleted["changed"] is True and not data.exists()
