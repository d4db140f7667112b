"""Full copies, bridge NICs and the VNC console of vmm.cloud.vm on the real node."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from .ansible_run import run_task
from .conftest import vm_files

TINY = {"memory": 128, "domain_type": "qemu", "shutdown_timeout": 0}


def test_full_clone_has_no_backing_file(image, vm_name):
    created = run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "clone": "full", "disk_size": 1, **TINY})
    assert created["changed"] is True, created
    disk = created["vm"]["disks"][0]["path"]
    info = json.loads(subprocess.run(["qemu-img", "info", "--output", "json", "-U", disk], capture_output=True,
                                     check=True).stdout)
    assert "backing-filename" not in info
    assert info["virtual-size"] == 1024 ** 3
    assert run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "clone": "full", **TINY})["changed"] is False
    assert run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})["changed"] is True
    assert vm_files(vm_name) == []


@pytest.fixture
def bridge():
    name = "itbr0"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], check=True)


def test_bridge_nic(image, vm_name, bridge):
    args = {"name": vm_name, "image": image, "networks": [{"bridge": bridge}], "state": "running", **TINY}
    created = run_task("vmm.cloud.vm", args)
    assert created["changed"] is True, created
    nic = created["vm"]["interfaces"][0]
    assert (nic["type"], nic["bridge"]) == ("bridge", bridge)
    links = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True,
                           check=True).stdout
    assert nic["target_dev"] in links  # the VM's tap device is plugged into the bridge
    assert run_task("vmm.cloud.vm", args)["changed"] is False


def test_vnc_console_listens_where_asked(image, vm_name, tmp_path):
    args = {"name": vm_name, "image": image, "console": {"type": "vnc", "listen": "127.0.0.1"}, "state": "running",
            **TINY}
    vnc = run_task("vmm.cloud.vm", args)["vm"]["vnc"]
    assert vnc["listen"] == "127.0.0.1" and vnc["port"] >= 5900
    with socket.create_connection(("127.0.0.1", vnc["port"]), timeout=10) as conn:
        assert conn.recv(12).startswith(b"RFB 003.")  # a VNC server greets first
    shot = tmp_path / "screen"
    subprocess.run(["virsh", "-c", "qemu:///system", "screenshot", vm_name, str(shot)], check=True,
                   capture_output=True)
    # libvirt writes PNG or PPM depending on the QEMU version: either is a real framebuffer image
    assert shot.read_bytes().startswith((b"\x89PNG\r\n\x1a\n", b"P6\n"))

    none = run_task("vmm.cloud.vm", {**args, "console": {"type": "none"}})
    assert none["changed"] is True and none["update"]["pending_restart"] == ["console"], none
