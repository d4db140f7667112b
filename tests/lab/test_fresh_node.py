"""A fresh Debian 12 node (tests/lab/lab up --fresh 1): everything it needs comes from the node role.

The node's root is debootstrap's minbase with a minimal server's packages, no
libvirt or QEMU; apt reaches Debian's mirror only through the lab's package
proxy. This lab has its own directory, network and names, so it never
disturbs the default lab of test_cluster.py. The tests run in file order.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.ansible_run import ROOT
from tests.lab.conftest import BOOTSTRAP_VARS, Lab, lab, uptimes, wait_for

LAB_DIR = Path("/var/lib/vmm-lab-fresh")
LAB_ENV = {"VMM_LAB_DIR": str(LAB_DIR), "VMM_LAB_NETWORK": "10.232.0.0/24", "VMM_LAB_PREFIX": "vmmfresh"}
NODE = "node1"
# What the role installs (its node_packages) and what the fresh root lacked before.
ROLE_PACKAGES = ("qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "python3-libvirt",
                 "python3-lxml", "genisoimage", "dnsmasq-base", "iptables")
TINY = {"vm_image": "tiny", "vm_memory": 128, "vm_cluster": "lab"}


def timed(what, started):
    print(f"\n{what}: {time.monotonic() - started:.1f} s", file=sys.stderr)


@pytest.fixture(scope="module")
def fresh():
    env = dict(os.environ, **LAB_ENV)
    lab("down", check=False, env=env)
    started = time.monotonic()
    out = lab("up", "--nodes", "1", "--fresh", "1", env=env, timeout=3600).stdout
    timed("lab up --fresh 1", started)
    inventory = Path(out.strip().splitlines()[-1])
    image = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True,
                           check=True).stdout.strip().splitlines()[-1]
    # The probe image at the same path on the node (a real node would get it by scp).
    on_node = LAB_DIR / "nodes" / NODE / "root" / image.lstrip("/")
    on_node.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, on_node)
    yield Lab(inventory, image, lab_dir=LAB_DIR)
    lab("down", env=env)
    assert "vmmfresh-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "vmmfresh" not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert not LAB_DIR.exists()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    assert not [p for p in processes if "apt_proxy.py" in p and "10.232.0.1" in p]


def installed(fresh, package):
    return fresh.ssh(NODE, f"dpkg-query -W -f='${{Status}}' {package}").stdout == "install ok installed"


def test_the_fresh_node_is_its_own_debian_without_libvirt(fresh):
    out = fresh.ssh(NODE, "hostname; . /etc/os-release; echo $VERSION_CODENAME; findmnt -n -o SOURCE /; "
                          "test -e /dev/net/tun && echo tun; ip route show default | wc -l").stdout.split()
    assert out[:2] == [NODE, "bookworm"]
    assert out[2].endswith(f"[{LAB_DIR / 'nodes' / NODE / 'root'}]")  # its own root, not the controller's
    assert out[3:] == ["tun", "0"]  # guests get tap devices; nothing routes off the machine
    assert not any(installed(fresh, package) for package in ROLE_PACKAGES)
    assert fresh.ssh(NODE, "command -v virsh libvirtd qemu-system-x86_64").stdout == ""


def test_the_role_installs_and_starts_everything(fresh):
    vars_ = dict(BOOTSTRAP_VARS, node_probe_image=fresh.image)
    started = time.monotonic()
    first, out = fresh.ok("node_bootstrap.yml", vars_)
    timed("first node_bootstrap.yml on the fresh node", started)
    assert first[NODE][1] > 0 and "Install QEMU, libvirt" in out
    missing = [package for package in ROLE_PACKAGES if not installed(fresh, package)]
    assert missing == []
    assert fresh.ssh(NODE, "/usr/local/sbin/vmm-node-daemon status libvirtd").stdout.strip() == "running"
    assert fresh.ssh(NODE, "virsh -c qemu:///system net-list --name").stdout.split() == ["default"]
    facts = fresh.ssh(NODE, "cat /var/lib/vmm/node.json").stdout
    assert '"domain_type": "qemu"' in facts  # the probe guest booted on the fresh node
    started = time.monotonic()
    second, _ = fresh.ok("node_bootstrap.yml", vars_)
    timed("second node_bootstrap.yml", started)
    assert second[NODE][1] == 0
    check, _ = fresh.ok("node_bootstrap.yml", vars_, "--check")
    assert check[NODE][1] == 0


def test_a_vm_runs_on_the_fresh_node(fresh):
    registered = fresh.module(NODE, "vmm.cloud.image", {"name": "tiny", "src": fresh.image})
    assert not registered.get("failed"), registered
    fresh.ok("vm_create.yml", {**TINY, "vm_name": "fresh1"})
    assert fresh.domains(NODE) == {"fresh1": "running"}
    wait_for(lambda: uptimes(fresh.console(NODE, "fresh1")), timeout=90, what="fresh1 ticking")
    fresh.ok("vm_delete.yml", {"vm_name": "fresh1", "vm_cluster": "lab"})
    assert fresh.domains(NODE) == {}


def test_an_nfs_store_gets_its_client_and_a_plain_error_where_the_kernel_has_no_nfs(fresh):
    nfs = {"node_shared_store": {"src": f"{fresh.state['nodes'][NODE]['ip']}:/srv/vmm", "fstype": "nfs"},
           "node_shared_dir": "/var/lib/vmm/nfs"}
    assert not installed(fresh, "nfs-common")
    rc, _recap, out = fresh.playbook("node_bootstrap.yml", nfs)
    assert rc != 0
    assert installed(fresh, "nfs-common")
    # The lab's nodes share this machine's kernel, which has no NFS (MACHINE-NOTES).
    assert "node1: the kernel cannot mount 'nfs' filesystems (no 'nfs' in /proc/filesystems" in out
    assert "modprobe nfs' failed" in out
