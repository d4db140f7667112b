"""Bad input: a clear message naming the field, and nothing left half-made."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .ansible_run import run_task, run_tasks
from .conftest import PREFIX, vm_files

BAD_NAMES = ["it-a/b", "it-..", "../it-x", "it-'q'", 'it-"q"', "it-<x>", "it-a b", "it-x;reboot", "it-$(id)",
             "it-" + "x" * 62]


def test_bad_names_are_refused_and_nothing_is_made(image, conn):
    results = run_tasks([("vmm.cloud.vm", {"name": n, "image": image, "memory": 128, "state": "running"})
                         for n in BAD_NAMES])
    for name, result in zip(BAD_NAMES, results, strict=True):
        assert result.get("failed") is True, (name, result)
        assert result["msg"].startswith("name: "), (name, result["msg"])
        assert result["field"] == "name"
    assert not [d.name() for d in conn.listAllDomains(0) if d.name().startswith(PREFIX)]
    leftovers = [p.name for d in ("/var/lib/vmm/disks", "/var/log/vmm/console") for p in Path(d).iterdir()
                 if p.name.startswith(PREFIX)]
    assert leftovers == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"memory": 0}, "memory"),
        ({"vcpus": 0}, "vcpus"),
        ({"image": "no-such-image"}, "image"),
        ({"image": "/nonexistent/disk.qcow2"}, "image"),
        ({"image": "../etc/passwd"}, "image"),
        ({"networks": [{"network": "default", "mac": "01:00:5e:00:00:01"}]}, "networks[0].mac"),
        ({"cloud_init": {"hostname": "-bad-"}}, "cloud_init.hostname"),
        ({"uri": "qemu:///system?socket=/nonexistent/libvirt-sock"}, "uri"),
        ({"domain_type": "kvm", "machine": "pc", "image": None}, "image"),
    ],
)
def test_bad_options_name_the_field(image, vm_name, args, field):
    result = run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "memory": 128, "domain_type": "qemu",
                                       "state": "running", **args})
    assert result.get("failed") is True, result
    assert result["msg"].startswith(field + ": "), result["msg"]
    assert vm_files(vm_name) == []


@pytest.fixture
def big_image(tmp_path):
    """A 3 GiB (sparse, empty) image in the store, for a disk_size smaller than the image."""
    src = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "3G"], check=True)
    run_task("vmm.cloud.image", {"name": "it-big", "state": "absent"})  # a run stopped midway may have left it
    assert run_task("vmm.cloud.image", {"name": "it-big", "src": str(src)})["changed"] is True
    yield "it-big"
    run_task("vmm.cloud.image", {"name": "it-big", "state": "absent"})


def test_disk_smaller_than_image_is_refused(big_image, vm_name):
    result = run_task("vmm.cloud.vm", {"name": vm_name, "image": big_image, "disk_size": 2, "memory": 128})
    assert result.get("failed") is True and result["msg"].startswith("disk_size: "), result
    assert "smaller than the image" in result["msg"]
    assert vm_files(vm_name) == []


def test_failed_start_cleans_up_what_it_made(image, vm_name, conn):
    """The domain defines fine but cannot start (no such network): nothing may remain."""
    result = run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "memory": 128, "domain_type": "qemu",
                                       "networks": [{"network": "it-no-such-net"}], "state": "running"})
    assert result.get("failed") is True, result
    assert "it-no-such-net" in result["msg"]
    assert vm_name not in [d.name() for d in conn.listAllDomains(0)]
    assert vm_files(vm_name) == []


def test_bad_names_are_refused_on_delete_and_power_too():
    results = run_tasks([("vmm.cloud.vm", {"name": "../it-x", "state": "absent"}),
                         ("vmm.cloud.vm", {"name": "it-x;reboot", "state": "stopped"}),
                         ("vmm.cloud.vm_info", {"name": "it-a/b"})])
    for result in results:
        assert result.get("failed") is True and result["field"] == "name", result
