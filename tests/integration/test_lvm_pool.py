"""The node role's LVM storage type on a loop device: volume group and libvirt `logical` pool.

What this machine can test: the kernel has no device-mapper targets, so
logical volumes (and VM disks on them) cannot be made here; the volume group,
the pool definition and its start (vgchange with no volumes) can.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .ansible_run import ROOT, run_playbook, run_task

VG = "vmmitvg"
POOL = "it-lvm"


def converge(pv, *flags):
    play = [{"name": "LVM storage", "hosts": "vmm_nodes", "gather_facts": False, "tasks": [
        {"name": "Storage of the node role", "ansible.builtin.include_role": {
            "name": "vmm.cloud.node", "tasks_from": "storage.yml"},
         "vars": {"node_storage_type": "lvm", "node_lvm_vg": VG, "node_lvm_pvs": [pv], "node_disk_pool": POOL}}]}]
    book = ROOT / "tests" / "integration" / "lvm-play.yml"
    book.write_text(json.dumps(play))
    try:
        rc, out, err = run_playbook(book, *flags)
    finally:
        book.unlink()
    assert rc == 0, out[-3000:] + err[-2000:]
    return json.loads(out)["stats"]["localhost"]


@pytest.fixture
def loop_device(tmp_path):
    backing = tmp_path / "pv.img"
    subprocess.run(["truncate", "-s", "64M", str(backing)], check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True,
                            check=True).stdout.strip()
    yield device
    for argv in (["virsh", "pool-destroy", POOL], ["virsh", "pool-undefine", POOL], ["vgremove", "-f", VG],
                 ["pvremove", "-f", device], ["losetup", "-d", device]):
        if shutil.which(argv[0]):  # the LVM tools come with the role
            subprocess.run(argv, capture_output=True, check=False)


def test_volume_group_becomes_a_logical_pool(loop_device):
    planned = converge(loop_device, "--check")
    assert planned["changed"] >= 1
    # Check mode made nothing (on a node without the LVM tools it did not even install them).
    assert not shutil.which("vgs") or subprocess.run(["vgs", VG], capture_output=True, check=False).returncode != 0
    assert converge(loop_device)["changed"] >= 1
    assert VG in subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True,
                                check=True).stdout.split()
    xml = subprocess.run(["virsh", "pool-dumpxml", POOL], capture_output=True, text=True, check=True).stdout
    assert re.search(r"<pool type=['\"]logical['\"]", xml) and f"<name>{VG}</name>" in xml
    assert "State:          running" in subprocess.run(["virsh", "pool-info", POOL], capture_output=True, text=True,
                                                         check=True).stdout
    assert converge(loop_device)["changed"] == 0


def test_vm_on_a_logical_pool_is_refused_by_name(loop_device, image):
    converge(loop_device)
    result = run_task("vmm.cloud.vm", {"name": "it-lvm-vm", "image": image, "memory": 128,
                                        "domain_type": "qemu", "pool": POOL, "state": "present"})
    assert result["failed"] and result["field"] == "pool", result
    assert "logical pool" in result["msg"]
