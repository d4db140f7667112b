"""vmm.cloud.vm state=reinstalled on the real node: a new system disk and seed, the same VM otherwise."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from .ansible_run import run_task
from .conftest import vm_files, wait_for_console
from .test_vm import vm_args

MARK_AT = "1536M"  # past the tiny image's data, inside the 2 GiB disk


def write_mark(disk):
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a {MARK_AT} 64k", str(disk)], check=True,
                   capture_output=True)


def has_mark(disk):
    read = subprocess.run(["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P 0x5a {MARK_AT} 64k", str(disk)],
                          capture_output=True, text=True, check=False)
    assert "read 65536/65536 bytes" in read.stdout, read  # read it was, whatever the bytes
    return read.returncode == 0 and "Pattern verification failed" not in read.stdout


def booted_hostname(vm_name):
    line = wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK")
    return re.search(r"hostname=(\S+)", line).group(1)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_reinstall_gives_a_new_disk_and_seed_to_the_same_vm(image, vm_name, conn):
    args = vm_args(vm_name, image, disk_size=2, owner="alice", state="present",
                   cloud_init={"hostname": "first-life", "password": "old-secret"})
    created = run_task("vmm.cloud.vm", args)["vm"]
    disk, seed = Path(created["disks"][0]["path"]), Path(created["disks"][1]["path"])
    write_mark(disk)  # what the old system held
    assert has_mark(disk)

    reinstall = {"name": vm_name, "state": "reinstalled", "cloud_init": {"hostname": "second-life",
                                                                        "password": "new-secret"}}
    planned = run_task("vmm.cloud.vm", reinstall, check=True, diff=True)
    assert planned["changed"] is True and planned["reinstalled"]["seed_rewritten"] is True, planned
    assert planned["diff"]["before"]["seed_sha256"] != planned["diff"]["after"]["seed_sha256"]
    assert has_mark(disk) and not conn.lookupByName(vm_name).isActive()  # check mode: nothing happened
    assert vm_files(vm_name) == sorted([str(disk), str(seed)])

    done = run_task("vmm.cloud.vm", reinstall)
    assert done["changed"] is True, done
    vm = done["vm"]
    assert (vm["name"], vm["uuid"], vm["owner"], vm["image"]) == (vm_name, created["uuid"], "alice", image)
    assert vm["interfaces"][0]["mac"] == created["interfaces"][0]["mac"]
    assert vm["state"] == "running" and vm["disk_size"] == 2.0 and vm["reinstalled"]
    assert not has_mark(disk)  # the old system disk is gone
    assert booted_hostname(vm_name) == "second-life"
    seed_text = subprocess.run(["isoinfo", "-R", "-i", str(seed), "-x", "/user-data"], capture_output=True,
                               text=True, check=True).stdout
    assert "new-secret" in seed_text and "old-secret" not in seed_text
    assert not list(disk.parent.glob(f"{vm_name}*.new"))

    # without cloud_init the seed stays as it is, and a running VM is powered off and started again
    seed_digest = sha256(seed)
    pid = Path(f"/run/libvirt/qemu/{vm_name}.pid").read_text()
    again = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled"})
    assert again["changed"] is True and again["reinstalled"] == {"image": image, "disk": str(disk),
                                                                 "seed_rewritten": False}, again
    assert sha256(seed) == seed_digest and again["vm"]["state"] == "running"
    assert Path(f"/run/libvirt/qemu/{vm_name}.pid").read_text() != pid
    assert booted_hostname(vm_name) == "second-life"


def test_a_refused_reinstall_leaves_the_vm_as_it_was(image, vm_name, conn):
    created = run_task("vmm.cloud.vm", vm_args(vm_name, image, disk_size=2, owner="alice", state="present"))["vm"]
    disk = Path(created["disks"][0]["path"])
    write_mark(disk)
    xml = conn.lookupByName(vm_name).XMLDesc(0)

    not_theirs = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled", "owner": "bob",
                                           "keep_owner": True})
    assert not_theirs["failed"] is True and not_theirs["field"] == "name", not_theirs
    no_image = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled", "image": "it-no-such-image"})
    assert no_image["failed"] is True and no_image["field"] == "image", no_image
    too_small = run_task("vmm.cloud.vm", {"name": vm_name, "state": "reinstalled", "disk_size": 1,
                                          "image": image})
    assert too_small["failed"] is True and too_small["field"] == "disk_size", too_small
    absent = run_task("vmm.cloud.vm", {"name": "it-no-such-vm", "state": "reinstalled"})
    assert absent["failed"] is True and absent["field"] == "name", absent

    assert has_mark(disk) and conn.lookupByName(vm_name).XMLDesc(0) == xml
    assert vm_files(vm_name) == sorted([str(disk), created["disks"][1]["path"]])
