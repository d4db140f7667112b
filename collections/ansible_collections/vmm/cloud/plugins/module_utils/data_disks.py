# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data disks of a VM, besides its system disk: which it has, and the steps to the ones asked for. Pure.

A data disk is a qcow2 file `<pool>/<vm>-<name>.qcow2` that vmm made (in the VM's managed disks), attached on
virtio after the system disk and the seed. A reinstall replaces the system disk only, so data disks stay.
"""

from __future__ import annotations

import os

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name, check_positive_int

GIB = 1024 ** 3
STATES = ("present", "absent")


def check_disks(disks):
    """The `disks` option, validated: [{name, size (bytes or None), pool, state}]; errors name the entry."""
    checked, seen = [], set()
    for index, disk in enumerate(disks):
        field = f"disks[{index}]"
        if not isinstance(disk, dict):
            raise ValidationError(f"{field}: must be a mapping with name and size", field=field)
        name = check_name(disk.get("name"), field=f"{field}.name")
        if name in seen:
            raise ValidationError(f"{field}.name: {name} is named twice", field=f"{field}.name")
        seen.add(name)
        state = disk.get("state") or "present"
        if state not in STATES:
            raise ValidationError(f"{field}.state: must be present or absent", field=f"{field}.state")
        size = disk.get("size")
        if state == "present" and size is None:
            raise ValidationError(f"{field}.size: required (GiB)", field=f"{field}.size")
        if size is not None:
            size = check_positive_int(size, f"{field}.size", maximum=65536) * GIB
        pool = check_name(disk["pool"], field=f"{field}.pool") if disk.get("pool") else None
        checked.append({"name": name, "size": size, "pool": pool, "state": state})
    return checked


def data_disk_path(directory, vm, name):
    return os.path.join(directory, f"{vm}-{name}.qcow2")


def current_data_disks(facts):
    """{name: disk} of the VM's data disks: managed, writable, named `<vm>-<name>.qcow2`, not its first disk."""
    found = {}
    prefix = f"{facts['name']}-"
    writable = [d for d in facts["disks"] if d.get("device", "disk") == "disk" and not d.get("readonly")]
    for disk in writable[1:]:
        base = os.path.basename(disk.get("path") or "")
        managed = disk["path"] in facts["metadata"].get("managed_disks", [])
        if managed and base.startswith(prefix) and base.endswith(".qcow2"):
            found[base[len(prefix):-len(".qcow2")]] = disk
    return found


def free_target(disks):
    used = {d["target"] for d in disks}
    return next(f"vd{letter}" for letter in "cdefghijklmnopqrstuvwxyz" if f"vd{letter}" not in used)


def plan(facts, wanted, directory_of, sizes):
    """(steps, disks after, managed disks after) taking `facts`' data disks to `wanted` (check_disks()).

    `directory_of(pool)` is a pool's directory (None: the VM's pool); `sizes` {path: virtual size} of the
    current data disks. Steps: ("create", disk, size), ("grow", disk, size), ("delete", disk)."""
    have = current_data_disks(facts)
    disks = list(facts["disks"])
    managed = list(facts["metadata"]["managed_disks"])
    steps = []
    for want in wanted:
        disk = have.get(want["name"])
        if want["state"] == "absent":
            if disk is not None:
                steps.append(("delete", disk))
                disks = [d for d in disks if d is not disk]
                managed = [p for p in managed if p != disk["path"]]
            continue
        if disk is None:
            path = data_disk_path(directory_of(want["pool"]), facts["name"], want["name"])
            disk = {"path": path, "format": "qcow2", "target": free_target(disks), "bus": "virtio", "device": "disk",
                    "readonly": False, "boot_order": None}
            steps.append(("create", disk, want["size"]))
            disks.append(disk)
            managed.append(path)
        elif want["size"] is not None and want["size"] != sizes[disk["path"]]:
            now = sizes[disk["path"]]
            if want["size"] < now:
                raise ValidationError(f"disks: {want['name']} is never shrunk ({now / GIB:.2f} GiB now, "
                                      f"{want['size'] // GIB} GiB asked)", field="disks")
            steps.append(("grow", disk, want["size"]))
    return steps, disks, managed
