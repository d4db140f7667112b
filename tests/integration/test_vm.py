"""vmm.cloud.vm on the real node: create from an image, boot, idempotence, check mode, power, resize, delete."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

import libvirt

from .ansible_run import run_task
from .conftest import vm_files, wait_for_console

TINY = {"memory": 128, "domain_type": "qemu", "shutdown_timeout": 20}


def vm_args(name, image, **extra):
    return {"name": name, "image": image, **TINY, **extra}


def wait_until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def defined(conn, name):
    try:
        conn.lookupByName(name)
        return True
    except libvirt.libvirtError:
        return False


def test_create_boots_seeded_guest_idempotently(image, vm_name, conn):
    args = vm_args(vm_name, image, disk_size=2, owner="alice", state="running",
                   cloud_init={"hostname": "seeded-host"})

    planned = run_task("vmm.cloud.vm", args, check=True)
    assert planned["changed"] is True, planned
    assert not defined(conn, vm_name) and vm_files(vm_name) == []

    created = run_task("vmm.cloud.vm", args, diff=True)
    assert created["changed"] is True, created
    vm = created["vm"]
    assert (vm["state"], vm["domain_type"], vm["owner"], vm["image"]) == ("running", "qemu", "alice", image)
    assert vm["disk_size"] == 2.0
    assert created["diff"]["before"] == {} and created["diff"]["after"]["owner"] == "alice"

    line = wait_for_console(vm["console_log"], "VMM-BOOT-OK")
    match = re.search(r"hostname=(\S+) ip=(\S+)", line)
    assert match.group(1) == "seeded-host", line
    assert re.match(r"\d+\.\d+\.\d+\.\d+$", match.group(2)), line

    info = run_task("vmm.cloud.vm_info", {"name": vm_name})
    assert info["vms"][0]["interfaces"][0]["ip"] == match.group(2)
    assert info["changed"] is False
    # the agent's channel is there; the busybox guest runs no agent
    assert info["vms"][0]["guest_agent"] == {"channel": True, "connected": False}
    # the seed names the NIC by the MAC vmm pinned on it
    seed = json.loads(subprocess.run(["isoinfo", "-R", "-i", f"/var/lib/vmm/disks/{vm_name}-seed.iso", "-x",
                                      "/network-config"], capture_output=True, check=True).stdout)
    mac = vm["interfaces"][0]["mac"]
    assert seed == {"version": 2, "ethernets": {"eth0": {"match": {"macaddress": mac}, "set-name": "eth0",
                                                          "dhcp4": True}}}, seed

    again = run_task("vmm.cloud.vm", args)
    assert again["changed"] is False, again["actions"]
    assert again["msg"] == "already as wanted"

    # the overlay is the VM's, the base image is untouched and only referenced
    disk = Path(vm["disks"][0]["path"])
    assert disk.name == f"{vm_name}.qcow2"
    base = Path(f"/var/lib/vmm/images/{image}.qcow2")
    assert disk.stat().st_size < base.stat().st_size


def test_check_mode_changes_nothing_on_existing_vm(image, vm_name, conn):
    assert run_task("vmm.cloud.vm", vm_args(vm_name, image, state="present"))["changed"] is True
    xml_before = conn.lookupByName(vm_name).XMLDesc(0)
    for change in ({"memory": 256}, {"vcpus": 2}, {"state": "running"}, {"state": "absent"}, {"owner": "bob"}):
        result = run_task("vmm.cloud.vm", {**vm_args(vm_name, image, state="present"), **change}, check=True)
        assert result["changed"] is True, (change, result)
    dom = conn.lookupByName(vm_name)
    assert dom.XMLDesc(0) == xml_before
    assert not dom.isActive()


def test_power_stop_start_restart(image, vm_name, conn):
    args = vm_args(vm_name, image, state="running")
    run_task("vmm.cloud.vm", args)
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")

    stopped = run_task("vmm.cloud.vm", {**args, "state": "stopped"})
    assert stopped["changed"] is True and stopped["vm"]["state"] == "shutoff", stopped
    assert stopped["shutdown"] in ("graceful", "forced")
    assert run_task("vmm.cloud.vm", {**args, "state": "stopped"})["changed"] is False

    started = run_task("vmm.cloud.vm", args)
    assert started["changed"] is True and started["vm"]["state"] == "running"
    assert run_task("vmm.cloud.vm", args)["changed"] is False

    dom = conn.lookupByName(vm_name)
    qemu_pid_before = Path(f"/run/libvirt/qemu/{vm_name}.pid").read_text()
    restarted = run_task("vmm.cloud.vm", {**args, "state": "restarted", "shutdown_timeout": 0})
    assert restarted["changed"] is True and restarted["vm"]["state"] == "running"
    assert restarted["shutdown"] == "forced"
    assert Path(f"/run/libvirt/qemu/{vm_name}.pid").read_text() != qemu_pid_before
    assert dom.isActive()


def test_graceful_shutdown_of_the_tiny_guest(image, vm_name):
    args = vm_args(vm_name, image, state="running", shutdown_timeout=60)
    run_task("vmm.cloud.vm", args)
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")
    stopped = run_task("vmm.cloud.vm", {**args, "state": "stopped"})
    assert stopped["shutdown"] == "graceful", stopped


def test_resize_live_and_at_next_boot(image, vm_name, conn):
    args = vm_args(vm_name, image, state="running", vcpus=1, max_vcpus=2, memory=256, disk_size=1)
    run_task("vmm.cloud.vm", args)
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")

    live = run_task("vmm.cloud.vm", {**args, "vcpus": 2, "memory": 192, "disk_size": 2})
    assert live["changed"] is True, live
    assert sorted(live["update"]["applied_live"]) == ["disk_size", "memory", "vcpus"], live
    assert live["update"]["pending_restart"] == []
    dom = conn.lookupByName(vm_name)
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
    assert wait_until(lambda: dom.info()[2] == 192 * 1024)  # the guest's balloon gave the memory back (KiB)
    assert run_task("vmm.cloud.vm", {**args, "vcpus": 2, "memory": 192, "disk_size": 2})["changed"] is False

    over_max = run_task("vmm.cloud.vm", {**args, "vcpus": 3})
    assert over_max["failed"] is True and over_max["field"] == "max_vcpus", over_max

    beyond = {k: v for k, v in args.items() if k != "max_vcpus"}
    later = run_task("vmm.cloud.vm", {**beyond, "vcpus": 3, "memory": 512, "disk_size": 2})
    assert later["changed"] is True, later
    assert set(later["update"]["pending_restart"]) >= {"vcpus", "max_vcpus", "memory", "max_memory"}, later
    inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert "<vcpu placement='static'>3</vcpu>" in inactive
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2  # the running guest is left alone

    shrink = run_task("vmm.cloud.vm", {**beyond, "vcpus": 3, "memory": 512, "disk_size": 1})
    assert shrink["failed"] is True and shrink["msg"].startswith("disk_size: "), shrink


def test_delete_removes_vm_files_but_never_the_image(image, vm_name, conn):
    base = Path(f"/var/lib/vmm/images/{image}.qcow2")
    digest = hashlib.sha256(base.read_bytes()).hexdigest()
    run_task("vmm.cloud.vm", vm_args(vm_name, image, state="running"))
    assert len(vm_files(vm_name)) == 3  # overlay, seed, console log

    planned = run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"}, check=True)
    assert planned["changed"] is True and defined(conn, vm_name)

    deleted = run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    assert deleted["changed"] is True and deleted["vm"] is None
    assert not defined(conn, vm_name)
    assert vm_files(vm_name) == []
    assert hashlib.sha256(base.read_bytes()).hexdigest() == digest
    assert run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})["changed"] is False


def test_domain_type_auto_follows_the_node_probe(image, vm_name):
    node = run_task("vmm.cloud.node_info", {})["node"]
    created = run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "memory": 128, "state": "present"})
    assert created["vm"]["domain_type"] == node["domain_type"]
    assert created["domain_type_source"] == node["domain_type_source"]
