"""vmm.cloud.image vm=...: an image from a stopped VM's disk, flattened, registered and used by a new VM."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .ansible_run import run_task
from .test_vm import vm_args
from .test_vm_reinstall import has_mark, write_mark

CAPTURED = "it-captured"


def test_image_from_a_stopped_vm_is_standalone_and_makes_new_vms(image, vm_name, conn):
    source = run_task("vmm.cloud.vm", vm_args(vm_name, image, disk_size=2, state="present"))["vm"]
    write_mark(source["disks"][0]["path"])  # what the VM's own disk holds beside its image
    args = {"name": CAPTURED, "vm": vm_name, "description": "after setup"}
    try:
        planned = run_task("vmm.cloud.image", args, check=True)
        assert planned["changed"] is True and not Path(f"/var/lib/vmm/images/{CAPTURED}.qcow2").exists(), planned

        made = run_task("vmm.cloud.image", args)
        assert made["changed"] is True, made
        path = made["image"]["path"]
        info = json.loads(subprocess.run(["qemu-img", "info", "--output", "json", path], capture_output=True,
                                         check=True).stdout)
        assert "backing-filename" not in info and info["virtual-size"] == 2 * 1024 ** 3, info  # flattened
        assert has_mark(path)
        assert made["image"]["source"] == f"vm:{vm_name}" and made["image"]["description"] == "after setup"
        assert run_task("vmm.cloud.image", args)["changed"] is False

        clone = run_task("vmm.cloud.vm", vm_args(f"{vm_name}-2", CAPTURED, state="present"))
        assert clone["changed"] is True and clone["vm"]["image"] == CAPTURED, clone
        assert has_mark(clone["vm"]["disks"][0]["path"])  # the new VM starts from what the old one held
        run_task("vmm.cloud.vm", {"name": f"{vm_name}-2", "state": "absent"})

        run_task("vmm.cloud.vm", {"name": vm_name, "state": "running"})
        running = run_task("vmm.cloud.image", {"name": f"{CAPTURED}-2", "vm": vm_name})
        assert running["failed"] is True and running["field"] == "vm" and "stop it first" in running["msg"], running
        both = run_task("vmm.cloud.image", {"name": f"{CAPTURED}-2", "vm": vm_name, "src": "/tmp/x.qcow2"})
        assert both["failed"] is True and "mutually exclusive" in both["msg"], both
        assert not list(Path("/var/lib/vmm/images").glob(f"{CAPTURED}-2*"))
    finally:
        run_task("vmm.cloud.vm", {"name": f"{vm_name}-2", "state": "absent"})
        run_task("vmm.cloud.image", {"name": CAPTURED, "state": "absent"})
