# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data-disk steps of `vmm.cloud.vm` (a part of VmService): plan them into the spec (data_disks.py), make
the files, attach and detach them in a running guest, grow and delete them. Every change goes through the run's
change log."""

from __future__ import annotations

import os

from ansible_collections.vmm.cloud.plugins.module_utils.changes import remove_file
from ansible_collections.vmm.cloud.plugins.module_utils.data_disks import current_data_disks
from ansible_collections.vmm.cloud.plugins.module_utils.data_disks import plan as plan_data_disks
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import disk_device_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError


class DataDiskSteps:
    """Mixed into VmService: uses its client, qemu_img, log, request and outcome."""

    def _plan_data_disks(self, spec, request):
        """Put the data disks `request` asks for into `spec` (its disks and managed disks); the steps to take."""
        directories = {}

        def directory_of(pool):
            pool = pool or self.request["pool"]
            if pool not in directories:
                directories[pool] = self.client.pool_path(pool, field="disks")
            return directories[pool]

        facts = {"name": spec["name"], "disks": spec["disks"], "metadata": spec["metadata"]}
        sizes = {disk["path"]: self.qemu_img.info(disk["path"])["virtual-size"]
                 for disk in current_data_disks(facts).values() if os.path.exists(disk["path"])}
        steps, disks, managed = plan_data_disks(facts, request["disks"], directory_of, sizes)
        for step in steps:
            if step[0] == "create" and os.path.lexists(step[1]["path"]):
                raise ConflictError(f"disks: {step[1]['path']} exists already and is not this VM's data disk",
                                    field="disks")
        spec["disks"] = disks
        spec["metadata"] = dict(spec["metadata"], managed_disks=managed)
        return steps

    def _make_data_disks(self, steps, rollback):
        for step in steps:
            if step[0] == "create":
                rollback.add(remove_file, step[1]["path"])
                self.log.apply(f"created data disk {step[1]['path']} ({step[2] // 1024 ** 3} GiB)",
                               self.qemu_img.create, step[1]["path"], step[2])

    def _attach_live(self, dom, steps):
        for step in steps:
            if step[0] == "create":
                self.log.apply(f"attached {step[1]['target']} live", self.client.attach_live, dom,
                               disk_device_xml(step[1]))
                self.outcome["applied_live"].append("disks")

    def _detach_live(self, dom, steps):
        for step in steps:
            if step[0] == "delete":
                self.log.apply(f"detached {step[1]['target']} live", self.client.detach_live, dom,
                               disk_device_xml(step[1]), step[1]["target"])

    def _finish_data_disks(self, dom, steps, active):
        for step in steps:
            if step[0] == "delete" and os.path.lexists(step[1]["path"]):
                self.log.apply(f"deleted data disk {step[1]['path']}", remove_file, step[1]["path"])
            elif step[0] == "grow" and active:
                self.log.apply(f"grew {step[1]['target']} live", self.client.block_resize, dom, step[1]["target"],
                               step[2])
            elif step[0] == "grow":
                self.log.apply(f"grew {step[1]['path']}", self.qemu_img.resize, step[1]["path"], step[2])
