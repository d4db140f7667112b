"""Fixtures for tests on the real local node (qemu:///system, software emulation).

The node must be bootstrapped (`./scripts/setup --no-demo` does it): libvirtd
running, pools `vmm` and `vmm-images`, the `default` NAT network, the demo
image built. Every VM a test makes is called `it-*` and is removed at the end
of the session even when a test fails half-way.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import libvirt
import pytest

from .ansible_run import ROOT, run_task

CACHE_DIR = Path(os.environ.get("VMM_CACHE_DIR", "/var/cache/vmm"))
IMAGE_NAME = "it-tiny"
PREFIX = "it-"


@pytest.fixture(scope="session")
def demo_image_path():
    out = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.is_file(), out.stdout
    return path


@pytest.fixture(scope="session")
def conn():
    connection = libvirt.open("qemu:///system")
    yield connection
    connection.close()


def remove_test_vms(connection):
    for dom in connection.listAllDomains(0):
        if not dom.name().startswith(PREFIX):
            continue
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    for directory in (Path("/var/lib/vmm/disks"), Path("/var/log/vmm/console")):
        for path in directory.glob(f"{PREFIX}*"):
            path.unlink()


@pytest.fixture(scope="session")
def image(demo_image_path, conn):
    """The demo image registered in the store as `it-tiny`."""
    remove_test_vms(conn)
    result = run_task("vmm.cloud.image", {"name": IMAGE_NAME, "src": str(demo_image_path)})
    assert not result.get("failed"), result
    yield IMAGE_NAME
    remove_test_vms(conn)
    run_task("vmm.cloud.image", {"name": IMAGE_NAME, "state": "absent"})


@pytest.fixture
def vm_name(request, conn):
    """A fresh VM name for one test, cleaned up after it."""
    name = f"{PREFIX}{request.node.name.replace('test_', '')[:40]}".replace("[", "-").replace("]", "")
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
    yield name
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        dom = None
    if dom is not None:
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    for path in (Path(f"/var/lib/vmm/disks/{name}.qcow2"), Path(f"/var/lib/vmm/disks/{name}-seed.iso"),
                 Path(f"/var/lib/vmm/disks/{name}.qcow2.new"), Path(f"/var/lib/vmm/disks/{name}-seed.iso.new"),
                 Path(f"/var/log/vmm/console/{name}.log"), *Path("/var/lib/vmm/disks").glob(f"{name}-*.qcow2")):
        if path.exists():
            path.unlink()


def wait_for_console(path, marker, timeout=90):
    """The first console line holding `marker`, waiting for the guest to print it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(path).exists():
            for line in Path(path).read_text(errors="replace").splitlines():
                if marker in line:
                    return line.strip()
        time.sleep(0.5)
    text = Path(path).read_text(errors="replace") if Path(path).exists() else "(no console log)"
    raise AssertionError(f"no {marker!r} on the console within {timeout} s:\n{text[-3000:]}")


def vm_files(name):
    return sorted(str(p) for d in ("/var/lib/vmm/disks", "/var/log/vmm/console") for p in Path(d).glob(f"{name}[.-]*"))
