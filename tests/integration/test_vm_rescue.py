"""ISO images in the store, a VM installed from an ISO, and rescue mode (vmm.cloud.vm iso / rescue)."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from .ansible_run import run_task
from .conftest import wait_for_console
from .test_vm import vm_args

RESCUE = "it-rescue"
GIB_SECTORS = 1024 ** 3 // 512


@pytest.fixture(scope="module")
def rescue_iso(image, demo_image_path):
    iso = demo_image_path.parent / "vmm-rescue.iso"
    registered = run_task("vmm.cloud.image", {"name": RESCUE, "src": str(iso)})
    assert registered["image"]["kind"] == "iso" and registered["image"]["path"].endswith(f"/{RESCUE}.iso"), registered
    yield RESCUE
    run_task("vmm.cloud.image", {"name": RESCUE, "state": "absent"})


def cdroms(dom, flags=0):
    root = etree.fromstring(dom.XMLDesc(flags))
    return [(d.find("target").get("dev"), d.find("source").get("file") if d.find("source") is not None else None)
            for d in root.iterfind("devices/disk[@device='cdrom']")]


def boot_orders(dom):
    root = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return {d.find("target").get("dev"): d.find("boot").get("order")
            for d in root.iterfind("devices/disk") if d.find("boot") is not None}


def test_an_iso_is_no_disk_image(rescue_iso, vm_name):
    refused = run_task("vmm.cloud.vm", vm_args(vm_name, rescue_iso))
    assert refused["failed"] is True and refused["field"] == "image" and "ISO" in refused["msg"], refused
    not_iso = run_task("vmm.cloud.vm", vm_args(vm_name, "it-tiny", iso="it-tiny"))
    assert not_iso["failed"] is True and not_iso["field"] == "iso", not_iso
    no_image = run_task("vmm.cloud.vm", vm_args(vm_name, rescue_iso, rescue=True))
    assert no_image["failed"] is True and no_image["field"] == "rescue_image", no_image


def test_rescue_mode_boots_the_iso_with_the_vms_disks_and_back(image, rescue_iso, vm_name, conn):
    console = f"/var/log/vmm/console/{vm_name}.log"
    args = vm_args(vm_name, image, state="running", disks=[{"name": "data", "size": 1}], shutdown_timeout=5)
    run_task("vmm.cloud.vm", args)
    wait_for_console(console, "VMM-BOOT-OK")
    dom = conn.lookupByName(vm_name)
    system_sectors = int(dom.blockInfo("vda")[0]) // 512

    rescue = dict(args, rescue=True, rescue_image=rescue_iso)
    planned = run_task("vmm.cloud.vm", rescue, check=True)
    assert planned["changed"] is True and cdroms(dom) == [], planned
    entered = run_task("vmm.cloud.vm", rescue)
    assert entered["changed"] is True and entered["vm"]["rescue"] == rescue_iso, entered
    assert cdroms(dom) == [("hdc", f"/var/lib/vmm/images/{RESCUE}.iso")]
    line = wait_for_console(console, "VMM-RESCUE")
    disks = dict(item.split(":") for item in line.split("disks=")[1].split(","))
    # its own system disk and data disk (and seed), as they are
    assert disks["vda"] == str(system_sectors) and disks["vdc"] == str(GIB_SECTORS), line
    assert run_task("vmm.cloud.vm", rescue)["changed"] is False
    in_use = run_task("vmm.cloud.image", {"name": RESCUE, "state": "absent"})
    assert in_use["failed"] is True and vm_name in in_use["msg"], in_use

    left = run_task("vmm.cloud.vm", dict(args, rescue=False))
    assert left["changed"] is True and left["vm"]["rescue"] is None, left
    assert cdroms(dom) == [] and boot_orders(dom) == {"vda": "1"}
    wait_for_console(console, "VMM-BOOT-OK")
    assert "VMM-RESCUE" not in open(console, errors="replace").read()
    assert run_task("vmm.cloud.vm", dict(args, rescue=False))["changed"] is False


def test_a_vm_installed_from_an_iso_boots_it_on_a_blank_disk(rescue_iso, vm_name, conn):
    args = {"name": vm_name, "iso": rescue_iso, "disk_size": 1, "memory": 256, "state": "running"}
    missing = run_task("vmm.cloud.vm", dict(args, disk_size=None))
    assert missing["failed"] is True and missing["field"] == "disk_size", missing
    created = run_task("vmm.cloud.vm", args)
    assert created["changed"] is True and created["vm"]["iso"] == rescue_iso and created["vm"]["image"] is None
    dom = conn.lookupByName(vm_name)
    assert boot_orders(dom) == {"hdc": "1", "vda": "2"}
    line = wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-RESCUE")
    assert f"vda:{GIB_SECTORS}" in line, line  # the blank disk, there to install on
    assert run_task("vmm.cloud.vm", args)["changed"] is False

    ejected = run_task("vmm.cloud.vm", dict(args, iso=""))
    assert ejected["changed"] is True and ejected["update"]["pending_restart"] == ["iso"], ejected
    assert cdroms(dom, libvirt.VIR_DOMAIN_XML_INACTIVE) == [] and boot_orders(dom) == {"vda": "1"}
    assert run_task("vmm.cloud.vm", dict(args, iso=""))["changed"] is False
