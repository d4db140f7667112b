"""vmm.cloud.image, image_info and node_info on the real node."""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading
from pathlib import Path

import pytest

from .ansible_run import run_task

STORE = Path("/var/lib/vmm/images")


@pytest.fixture
def small_image(tmp_path):
    src = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "64M"], check=True)
    yield src
    for path in STORE.glob("it-small*"):
        path.unlink()


def test_register_twice_check_mode_and_delete(small_image):
    args = {"name": "it-small", "src": str(small_image), "os": "none"}
    planned = run_task("vmm.cloud.image", args, check=True)
    assert planned["changed"] is True and not (STORE / "it-small.qcow2").exists()
    assert planned["image"]["virtual_size"] == 64 * 1024 * 1024

    first = run_task("vmm.cloud.image", args)
    assert first["changed"] is True, first
    assert first["image"]["sha256"] == hashlib.sha256(small_image.read_bytes()).hexdigest()
    assert first["image"]["virtual_size"] == 64 * 1024 * 1024
    assert run_task("vmm.cloud.image", args)["changed"] is False

    listed = run_task("vmm.cloud.image_info", {"name": "it-small"})["images"]
    assert [(i["name"], i["format"], i["used_by"]) for i in listed] == [("it-small", "qcow2", [])]

    assert run_task("vmm.cloud.image", {"name": "it-small", "state": "absent"}, check=True)["changed"] is True
    assert (STORE / "it-small.qcow2").exists()
    assert run_task("vmm.cloud.image", {"name": "it-small", "state": "absent"})["changed"] is True
    assert not (STORE / "it-small.qcow2").exists() and not (STORE / "it-small.json").exists()
    assert run_task("vmm.cloud.image", {"name": "it-small", "state": "absent"})["changed"] is False


def test_register_from_url(small_image):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(small_image.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{small_image.name}"
        digest = hashlib.sha256(small_image.read_bytes()).hexdigest()
        bad = run_task("vmm.cloud.image", {"name": "it-small-url", "src": url, "checksum": "0" * 64})
        assert bad["failed"] is True and bad["msg"].startswith("checksum: "), bad
        good = run_task("vmm.cloud.image", {"name": "it-small-url", "src": url, "checksum": digest})
        assert good["changed"] is True and good["image"]["sha256"] == digest
        assert run_task("vmm.cloud.image", {"name": "it-small-url", "src": url})["changed"] is False
    finally:
        server.shutdown()
        server.server_close()
    run_task("vmm.cloud.image", {"name": "it-small-url", "state": "absent"})


def test_image_in_use_cannot_be_deleted(image, vm_name):
    created = run_task("vmm.cloud.vm", {"name": vm_name, "image": image, "memory": 128, "domain_type": "qemu"})
    assert created["changed"] is True, created
    refused = run_task("vmm.cloud.image", {"name": image, "state": "absent"})
    assert refused["failed"] is True, refused
    assert refused["msg"] == f"name: image {image} is used by VMs {vm_name}"
    assert (STORE / f"{image}.qcow2").exists()
    used_by = run_task("vmm.cloud.image_info", {"name": image})["images"][0]["used_by"]
    assert used_by == [vm_name]


def test_node_info_health_and_probe(demo_image_path):
    node = run_task("vmm.cloud.node_info", {})["node"]
    assert node["libvirtd_alive"] is True
    assert "qemu" in node["domain_types_available"]
    assert node["cpus"] >= 1 and 0 < node["memory_free_mib"] <= node["memory_total_mib"]
    assert {"vmm", "vmm-images"} <= {p["name"] for p in node["pools"] if p["active"]}

    probed = run_task("vmm.cloud.node_info", {"probe_image": str(demo_image_path), "probe_types": ["qemu"]})
    assert probed["changed"] is False
    assert probed["node"]["probe"]["qemu"]["ok"] is True, probed["node"]["probe"]
    assert probed["node"]["domain_type"] == "qemu"
    leftovers = [p for p in Path("/var/lib/vmm/disks").iterdir() if p.name.startswith("vmm-probe-")]
    assert leftovers == []


def test_node_info_reports_a_dead_libvirtd():
    node = run_task("vmm.cloud.node_info", {"uri": "qemu:///system?socket=/nonexistent/sock"})["node"]
    assert node["libvirtd_alive"] is False
    assert "cannot connect" in node["error"]
