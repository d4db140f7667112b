# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM's CD-ROM drive (a part of VmService): an ISO of the image store booted for a manual install (`iso`),
and rescue mode (`rescue`), in which the VM boots a rescue ISO with its own disks attached.

The drive is vmm's one <disk device='cdrom'> on target hdc (IDE; sdc on SATA for q35 machines). While it holds
an ISO it boots first and the system disk second; without one it is removed and the system disk boots first.
The metadata records `iso` and `rescue` (store names), which is what the run compares.
"""

from __future__ import annotations

CDROM_TARGETS = {"ide": "hdc", "sata": "sdc"}


def cdrom_bus(machine):
    return "sata" if "q35" in (machine or "") else "ide"


def is_vmm_cdrom(disk):
    return disk.get("device") == "cdrom" and disk.get("target") in CDROM_TARGETS.values()


def with_boot_media(spec, iso_path):
    """`spec` with vmm's CD-ROM drive holding `iso_path` (booted first), or without the drive (None)."""
    disks = [dict(d) for d in spec["disks"] if not is_vmm_cdrom(d)]
    system = next((d for d in disks if d.get("device", "disk") == "disk" and not d.get("readonly")), None)
    for disk in disks:
        if disk.get("boot_order"):
            disk["boot_order"] = None
    if iso_path:
        bus = cdrom_bus(spec.get("machine"))
        disks.append({"path": iso_path, "format": "raw", "target": CDROM_TARGETS[bus], "bus": bus,
                      "device": "cdrom", "readonly": True, "boot_order": 1})
    if system is not None:
        system["boot_order"] = 2 if iso_path else 1
    return dict(spec, disks=disks)


class BootMediaSteps:
    """Mixed into VmService: uses its images, client, log, request, outcome and _stop."""

    def _plan_boot_media(self, spec, request):
        """`spec` with the CD-ROM drive and the metadata that `iso` and `rescue` ask for (unchanged when both are
        unset)."""
        if request["iso"] is None and request["rescue"] is None:
            return spec
        meta = dict(spec["metadata"], iso=spec["metadata"].get("iso"), rescue=spec["metadata"].get("rescue"))
        if request["iso"] is not None:
            meta["iso"] = request["iso"] or None
        if request["rescue"] is not None:
            meta["rescue"] = request["rescue_image"] if request["rescue"] else None
        paths = {field: self.images.resolve_iso(meta[key], field=field)  # each named ISO must be in the store
                 for key, field in (("iso", "iso"), ("rescue", "rescue_image")) if meta[key]}
        iso_path = paths.get("rescue_image") or paths.get("iso")  # rescue mode boots its ISO, else the install's
        return with_boot_media(dict(spec, metadata=meta), iso_path)

    def _switch_rescue(self, dom, changed):
        """A running VM whose rescue mode changed boots again, into the mode it is now in."""
        if "rescue" not in changed or not self.client.is_active(dom):
            return
        self._stop(dom)
        self.log.apply("started", self.client.start, dom)
        self.outcome["pending_restart"] = []  # the boot it had waited for
        self.outcome["restarted_for"] = "rescue"
