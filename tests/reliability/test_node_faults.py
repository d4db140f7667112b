"""Faults of a node in the middle of a job, on the lab: libvirtd killed during vm_create and vm_delete, the
link of the destination cut during a live migration, the image store's filesystem full.

Each test breaks the node while libvirtd is held inside the step (see conftest.Hold), and ends with what
libvirt and the disks of both nodes hold: the VM whole on one node, or gone from all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import Hold, lab

TINY = {"image": "tiny", "memory": 128, "cluster": "lab"}
JOURNALS = Path("/var/lib/vmm/migrations")


def test_libvirtd_killed_during_vm_create_and_vm_delete(lab_nodes, lab_api):
    name = "rel-kill1"
    # Killed while libvirtd prepares the start: the domain is defined, its disk and seed are made.
    with Hold(name, "prepare") as hold:
        job_id = lab_api.submit("vm_create", {"name": name, **TINY})
        node = hold.node()
        lab("fault", node, "libvirtd")
    job = lab_api.wait(job_id)
    assert job["status"] == "failed", job
    assert "libvirtd is unreachable on qemu:///system" in job["job_explanation"], job
    # libvirtd could not undefine it, so the VM keeps its files: whole, never a domain without disks.
    assert "stays defined with its disk and seed" in job["job_explanation"], job
    lab("heal", node)
    lab_nodes.assert_whole(name, node, "shutoff")
    job = lab_api.ok(lab_api.submit("vm_create", {"name": name, **TINY}))
    assert job["artifacts"]["node"] == node
    lab_nodes.assert_whole(name, node, "running")

    # Killed while libvirtd stops the guest for the delete.
    with Hold(name, "stopped", "end") as hold:
        job_id = lab_api.submit("vm_delete", {"name": name})
        assert hold.node() == node
        lab("fault", node, "libvirtd")
    job = lab_api.wait(job_id)
    assert job["status"] == "failed", job
    assert "libvirtd is unreachable on qemu:///system" in job["job_explanation"], job
    lab("heal", node)
    lab_nodes.assert_whole(name, node, "shutoff")
    lab_api.ok(lab_api.submit("vm_delete", {"name": name}))
    lab_nodes.assert_gone(name)


def test_link_of_the_destination_cut_during_a_live_migration(lab_nodes, lab_api):
    name = "rel-move1"
    source = lab_api.ok(lab_api.submit("vm_create", {"name": name, **TINY}))["artifacts"]["node"]
    dest = next(node for node in lab_nodes.nodes("lab") if node != source)
    # Held on the destination while it prepares the incoming guest: the disk and seed copies are made
    # there, the source's guest is being migrated.
    with Hold(name, "migrate") as hold:
        job_id = lab_api.submit("vm_migrate", {"name": name, "target": dest})
        assert hold.node() == dest
        lab("fault", dest, "link")
        hold.release()
        job = lab_api.wait(job_id)
    lab("heal", dest)
    assert job["status"] == "failed", job
    explanation = job["job_explanation"]
    dest_uri, source_uri = lab_nodes.uri(dest), lab_nodes.uri(source)
    assert f"libvirtd is unreachable on {dest_uri}" in explanation, job
    assert f"{name} stays on {source_uri} (running)" in explanation, job
    # The VM runs on exactly one node: the source, with all it had; the directory says so, before and after
    # a fresh look at every node.
    assert lab_nodes.domains(source) == {name: "running"}
    assert name not in lab_nodes.domains(dest)
    assert (lab_api.vm(name)["node"], lab_api.vm(name)["state"]) == (source, "running")
    lab_api.ok(lab_api.submit("inventory_sync", {}))
    assert (lab_api.vm(name)["node"], lab_api.vm(name)["state"]) == (source, "running")
    # The copies the unreachable destination kept are named in the outcome and journaled for the next try.
    left = lab_nodes.picture(name)[dest]
    journal = json.loads((JOURNALS / f"{name}.json").read_text())
    assert journal["dest"] == dest_uri
    assert sorted(Path(p).name for p in journal["volumes"]) == left["volumes"] == left["files"]
    assert all(p in explanation for p in journal["volumes"])

    # Again, once the link is back: the leftovers go first, then the VM moves whole.
    job = lab_api.ok(lab_api.submit("vm_migrate", {"name": name, "target": dest}))
    assert [(m["from"], m["to"]) for m in job["artifacts"]["moves"]] == [(source, dest)]
    assert not (JOURNALS / f"{name}.json").exists()
    lab_nodes.assert_whole(name, dest, "running")
    assert lab_api.vm(name)["node"] == dest
    lab_api.ok(lab_api.submit("vm_delete", {"name": name}))
    lab_nodes.assert_gone(name)


def test_image_store_full_while_registering(lab_nodes, tmp_path):
    store = "/var/lib/vmm/rel-full"  # node1's own (its /var/lib/vmm is private), a 4 MiB tmpfs, a transient pool
    setup = lab_nodes.ssh("node1", f"mkdir -p {store} && mount -t tmpfs -o size=4m vmm-rel-full {store} && "
                                   f"virsh pool-create-as rel-full dir --target {store}")
    assert setup.returncode == 0, setup.stderr
    try:
        big = lab_nodes.image  # 15 MiB
        result = lab_nodes.module("node1", "vmm.cloud.image", {"name": "full", "src": big, "image_pool": "rel-full"})
        assert result.get("failed"), result
        assert result["msg"].startswith(f"src: no space left on the image store {store} (pool rel-full)"), result
        assert "nothing was registered" in result["msg"]
        assert lab_nodes.volumes("node1", "rel-full") == []
        assert lab_nodes.ssh("node1", f"ls -A {store}").stdout == ""
        # The store still takes what fits.
        small = tmp_path / "small.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(small), "16M"], check=True)
        small.chmod(0o644)
        result = lab_nodes.module("node1", "vmm.cloud.image", {"name": "small", "src": str(small),
                                                               "image_pool": "rel-full"})
        assert result["changed"] and not result.get("failed"), result
        assert lab_nodes.volumes("node1", "rel-full") == ["small.json", "small.qcow2"]
    finally:
        lab_nodes.ssh("node1", f"virsh pool-destroy rel-full; umount {store}; rmdir {store}")
