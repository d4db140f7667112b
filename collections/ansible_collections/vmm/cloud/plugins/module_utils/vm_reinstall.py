# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vmm.cloud.vm state: reinstalled` (a part of VmService): a new system disk, and a new seed with `cloud_init`,
for the same VM."""

from __future__ import annotations

import os

from ansible_collections.vmm.cloud.plugins.module_utils.changes import Rollback, remove_file
from ansible_collections.vmm.cloud.plugins.module_utils.domain_merge import domain_xml_for
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.seed import seed_digest, seed_files
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    managed_seed_path,
    managed_view,
    updated_spec,
    with_seed_network,
)


def system_disk(facts):
    """The VM's system disk: its first writable disk, which vmm made (a reinstall replaces it)."""
    for disk in facts["disks"]:
        if disk["device"] == "disk" and not disk["readonly"]:
            if disk["path"] in facts["metadata"]["managed_disks"]:
                return disk
            break
    raise ConflictError(f"name: VM {facts['name']} has no system disk made by vmm (an adopted VM's disk is "
                        "not vmm's to replace)", field="name")


class ReinstallSteps:
    """Mixed into VmService: uses its client, images, qemu_img, log, request, outcome, _check_owner, _make_disk,
    _write_seed, _describe and _facts."""

    def state_reinstalled(self, request):
        """A new system disk from the image (the VM's own, or `image`) and, with `cloud_init`, a new seed; name,
        UUID, MACs, addresses, owner, sizes and data disks stay. The new files are made beside the old ones
        first, so a failure leaves the VM as it was; the VM is then powered off, the files swapped and the VM
        started. Its snapshots go with the old disk."""
        dom = self.client.find_domain(request["name"])
        if dom is None:
            raise NotFoundError(f"name: no VM called {request['name']} to reinstall on {self.client.uri}",
                                field="name")
        current = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        self._check_owner(current, request)
        system = system_disk(current)
        image = self.request["image"] or current["metadata"].get("image")
        if not image:
            raise ValidationError(f"image: VM {request['name']} records no image; name the one to reinstall from",
                                  field="image")
        base, base_format, label = self.images.resolve(image)
        base_size = self.qemu_img.info(base)["virtual-size"]
        old_size = self._size_or_zero(system["path"])
        size = request["disk_size_bytes"] or max(base_size, old_size)
        if size < base_size:
            raise ValidationError(f"disk_size: {size // 1024 ** 3} GiB is smaller than the image "
                                  f"({base_size / 1024 ** 3:.2f} GiB)", field="disk_size")
        if size < old_size:
            raise ConflictError(f"disk_size: disks are never shrunk, a reinstall keeps the size "
                                f"({old_size / 1024 ** 3:.2f} GiB now, {size // 1024 ** 3} GiB asked)",
                                field="disk_size")
        seeded = with_seed_network(request, current["interfaces"])
        files = seed_files(current["uuid"], seeded["cloud_init"]) if request["cloud_init"] is not None else None
        spec = updated_spec(current, seeded, domain_type=None, seed_sha256=seed_digest(files) if files else None)
        spec["metadata"].update(image=label, reinstalled=utc_now())
        before = dict(managed_view(current), image=current["metadata"].get("image"))
        after = dict(managed_view(spec), image=label)
        self._swap_system(dom, current, system, files, (base, base_format, size),
                          domain_xml_for(spec, current, lambda: self.client.domain_xml(dom, inactive=True)))
        self.log.apply("started", self.client.start, dom)
        self.outcome["reinstalled"] = {"image": label, "disk": system["path"], "seed_rewritten": files is not None}
        if self.log.check_mode:
            return {"vm": self._describe(dom), "before": before, "after": after}
        return self._facts(dom, {"before": before, "after": after})

    def _size_or_zero(self, path):
        try:
            return self.qemu_img.info(path)["virtual-size"]
        except VmmError:  # the old disk is missing: the image's size
            return 0

    def _swap_system(self, dom, current, system, files, source, xml):
        """Make the new disk (and seed) as `<path>.new`, then power off, drop the snapshots and swap them in."""
        base, base_format, size = source
        seed_path = managed_seed_path(current)
        for leftover in (f"{system['path']}.new", f"{seed_path}.new"):
            if os.path.lexists(leftover):  # of a reinstall that failed before its swap
                self.log.apply(f"removed {leftover}", remove_file, leftover)
        staged = [system["path"]] + ([seed_path] if files is not None else [])
        rollback = Rollback()
        try:
            self._make_disk(rollback, f"{system['path']}.new", base, base_format, size)
            if files is not None:
                self.log.apply(f"wrote seed {seed_path}.new", self._write_seed, rollback, f"{seed_path}.new", files)
        except Exception:
            rollback.run()
            raise
        if self.client.is_active(dom):
            self.log.apply("powered off", self.client.destroy, dom)
        for snapshot in self.client.snapshot_names(dom):
            self.log.apply(f"dropped snapshot {snapshot} (it was in the old disk)", self.client.forget_snapshot, dom,
                           snapshot)
        for path in staged:
            self.log.apply(f"replaced {path}", os.replace, f"{path}.new", path)
        self.log.apply("updated the definition", self.client.define, xml)
        if not self.log.check_mode:
            self.client.refresh_pool(self.request["pool"])
