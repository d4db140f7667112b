"""vmm.cloud.vm_adopt: a running domain vmm did not make is adopted without a restart; then vmm's operations work
on it, its own definition stays, and only the disks marked managed are vmm's to delete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import libvirt
from lxml import etree

from .ansible_run import run_task
from .conftest import wait_for_console
from .test_vm import vm_args

FOREIGN = """<domain type='qemu'>
  <name>{name}</name>
  <description>made by hand, before vmm</description>
  <metadata><other:app xmlns:other="https://example.com/other/1">keep me</other:app></metadata>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='writeback'/>
      <source file='{own}'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{keep}'/><target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <serial type='pty'><log file='{log}' append='off'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <input type='tablet' bus='usb'/>
  </devices>
</domain>"""


def qemu_pid(name):
    return Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip()


def test_a_foreign_running_domain_is_adopted_without_a_restart(image, demo_image_path, vm_name, conn, tmp_path):
    own, keep = Path(f"/var/lib/vmm/disks/{vm_name}-own.qcow2"), Path(f"/var/lib/vmm/disks/{vm_name}-keep.qcow2")
    log = tmp_path / "console.log"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(demo_image_path), "-F", "qcow2", str(own)],
                   check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(keep), "64M"], check=True)
    dom = conn.defineXML(FOREIGN.format(name=vm_name, own=own, keep=keep, log=log))
    dom.create()
    wait_for_console(log, "VMM-BOOT-OK")
    pid = qemu_pid(vm_name)

    args = {"name": vm_name, "owner": "alice", "cluster": "local", "managed_disks": ["vda"]}
    planned = run_task("vmm.cloud.vm_adopt", args, check=True)
    assert planned["changed"] is True and planned["vm"]["owner"] == "alice", planned
    assert "vmm.dev" not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    bad = run_task("vmm.cloud.vm_adopt", dict(args, managed_disks=["vdz"]))
    assert bad["failed"] is True and bad["field"] == "managed_disks[0]" and "vda, vdb" in bad["msg"], bad
    adopted = run_task("vmm.cloud.vm_adopt", args)
    assert adopted["changed"] is True, adopted.get("msg")
    vm = adopted["vm"]
    assert (vm["owner"], vm["cluster"], vm["image"], vm["state"]) == ("alice", "local", None, "running")
    assert vm["adopted"] and qemu_pid(vm_name) == pid  # the same QEMU process: no restart
    assert run_task("vmm.cloud.vm_adopt", args)["changed"] is False
    info = run_task("vmm.cloud.vm_info", {"name": vm_name})["vms"][0]
    assert info["owner"] == "alice" and info["adopted"] == vm["adopted"]

    snap = run_task("vmm.cloud.vm_snapshot", {"vm": vm_name, "name": "s1"})
    assert snap["changed"] is True and snap["snapshot"]["memory"] is True, snap
    backup = run_task("vmm.cloud.vm_backup", {"vm": vm_name, "backup": "b1", "store": str(tmp_path / "backups")})
    assert backup["changed"] is True and {d["target"] for d in backup["backup"]["disks"]} == {"vda", "vdb"}, backup

    grown = run_task("vmm.cloud.vm", {"name": vm_name, "memory": 256, "max_memory": 256})
    assert grown["changed"] is True and set(grown["update"]["pending_restart"]) == {"memory", "max_memory"}, grown
    root = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert root.findtext("description") == "made by hand, before vmm"  # its own definition stays
    assert root.find("cpu/model").text == "qemu64" and root.find("devices/input[@type='tablet']") is not None
    assert root.find("os/boot").get("dev") == "hd"
    assert root.find("devices/disk/driver").get("cache") == "writeback"  # its unchanged disk, as it was
    assert root.find("metadata/{https://example.com/other/1}app").text == "keep me"
    assert root.find("memory").text == str(256 * 1024)
    assert run_task("vmm.cloud.vm", {"name": vm_name, "memory": 256, "max_memory": 256})["changed"] is False

    restarted = run_task("vmm.cloud.vm", {"name": vm_name, "state": "restarted", "shutdown_timeout": 0})
    assert restarted["vm"]["state"] == "running" and restarted["vm"]["memory"] == 256, restarted
    wait_for_console(log, "VMM-BOOT-OK")  # the merged definition boots
    run_task("vmm.cloud.vm_snapshot", {"vm": vm_name, "name": "s1", "state": "absent"})
    deleted = run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    assert deleted["changed"] is True and not own.exists(), deleted
    assert keep.exists() and log.exists()  # not vmm's: left where they were
    keep.unlink()


def test_a_vm_vmm_made_is_not_adopted_and_a_bad_name_is_refused(image, vm_name):
    run_task("vmm.cloud.vm", vm_args(vm_name, image))
    ours = run_task("vmm.cloud.vm_adopt", {"name": vm_name, "owner": "bob"})
    assert ours["failed"] is True and ours["field"] == "name" and "made by vmm" in ours["msg"], ours
    for bad in ("../x", "a b", "x'; reboot"):
        refused = run_task("vmm.cloud.vm_adopt", {"name": bad})
        assert refused["failed"] is True and refused["field"] == "name" and "rename" in refused["msg"], refused
