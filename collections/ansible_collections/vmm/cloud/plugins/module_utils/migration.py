# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a VM between two nodes through their libvirtds.

The plan looks at every disk of the VM: a disk the destination already sees
at the same path is on shared storage; one it does not see is copied. For a
running VM a copied writable disk gets an empty twin on the destination (same
pool, size, format and backing file) which the live migration fills
(incremental copy: the base image is on the shared image store), and
read-only media (the cloud-init seed) are streamed before. A stopped VM has
all its local volumes streamed, then its definition moves. Copies are removed
from the source once the VM runs on the destination, and from the destination
when the migration fails.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import STORAGE_MODES
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import build_volume_xml, parse_volume_xml

JOURNAL_DIR = "/var/lib/vmm/migrations"


class Journal:
    """The volumes a migration of one VM made on its destination, kept on the controller until they are removed."""

    def __init__(self, name, directory=JOURNAL_DIR):
        self.directory = directory
        self.path = os.path.join(directory, f"{name}.json")

    def read(self):
        """{dest, volumes} or None."""
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def write(self, dest, volumes):
        if not volumes:
            self.remove()
            return
        os.makedirs(self.directory, exist_ok=True)
        with open(f"{self.path}.partial", "w") as handle:
            json.dump({"dest": dest, "volumes": volumes}, handle)
        os.replace(f"{self.path}.partial", self.path)

    def remove(self):
        if os.path.lexists(self.path):
            os.remove(self.path)


def plan_disks(source, dest, domain_xml, storage="auto"):
    """[{path, pool, readonly, copy}] for the VM's file-backed disks."""
    plan = []
    source.refresh_pools()
    dest.refresh_pools()
    for disk in parse_domain_xml(domain_xml)["disks"]:
        if not disk["path"] or disk["device"] not in ("disk", "cdrom"):
            continue
        found = source.find_volume(disk["path"])
        if found is None:
            raise ConflictError(f"disk {disk['path']} of the VM is in no storage pool of the source node")
        on_dest = dest.find_volume(disk["path"]) is not None
        if storage == "shared" and not on_dest:
            raise ValidationError(f"storage: disk {disk['path']} is not on storage the destination shares "
                                  "(use storage=copy or auto)", field="storage")
        if storage == "copy" and on_dest:
            raise ValidationError(f"storage: disk {disk['path']} is already on the destination (shared storage); "
                                  "it cannot be copied onto itself", field="storage")
        plan.append({"path": disk["path"], "pool": found[0], "readonly": disk["readonly"], "copy": not on_dest})
    return plan


class Migration:
    """One VM from `source` to `dest` (two LibvirtClients)."""

    def __init__(self, source, dest, log, journal_dir=JOURNAL_DIR):
        self.source = source
        self.dest = dest
        self.log = log
        self.journal_dir = journal_dir
        self.journal = None
        self._created = []  # paths of volumes made on the destination, removed if the migration fails

    def run(self, name, storage="auto", unsafe=False, migrate_uri=None, bandwidth_mib=0):
        if storage not in STORAGE_MODES:
            raise ValidationError(f"storage: must be one of {', '.join(STORAGE_MODES)}", field="storage")
        dom = self.source.find_domain(name)
        if dom is None:
            if self.dest.find_domain(name) is not None:
                return {"migrated": False, "disks": [], "seconds": 0.0, "live": False}
            raise NotFoundError(f"name: no VM called {name} on {self.source.uri} or {self.dest.uri}", field="name")
        if self.dest.find_domain(name) is not None:
            raise ConflictError(f"name: a VM called {name} is already defined on {self.dest.uri}")
        self.journal = Journal(name, self.journal_dir)
        self._discard_leftovers()
        live = self.source.is_active(dom)
        plan = plan_disks(self.source, self.dest, self.source.domain_xml(dom, inactive=True), storage)
        copied = [disk for disk in plan if disk["copy"]]
        started = time.monotonic()
        try:
            for disk in copied:
                self.log.apply(f"copied {disk['path']}" if disk["readonly"] or not live
                               else f"prepared {disk['path']} for the live copy", self._prepare, disk, live)
            self.log.apply(f"{'live-' if live else ''}migrated {name} to {self.dest.uri}", self.source.migrate, dom,
                           self.dest, bool(copied) and live, unsafe, migrate_uri, bandwidth_mib)
        except VmmError as exc:
            raise type(exc)(f"{exc.msg}{self._failure_report(name)}", field=exc.field) from None
        except Exception:
            self._discard_created()
            raise
        if not self.log.check_mode:
            self.journal.remove()
        seconds = round(time.monotonic() - started, 3)
        for disk in copied:
            self.log.apply(f"removed {disk['path']} from the source", self._remove_source_copy, disk)
        return {"migrated": True, "disks": plan, "seconds": seconds, "live": live}

    def _prepare(self, disk, live):
        _pool, vol = self.source.find_volume(disk["path"])
        volume = parse_volume_xml(self.source.volume_xml(vol))
        # The twin keeps the backing file (on the shared image store); a streamed copy
        # rewrites it byte for byte, header included.
        fill = disk["readonly"] or not live
        # Journaled before it exists: if the destination drops off during the call, it may exist all the same.
        self._created.append(disk["path"])
        self.journal.write(self.dest.uri, self._created)
        try:
            twin = self.dest.create_volume(disk["pool"], build_volume_xml(volume))
        except VmmError:
            if self.dest.reachable():
                self._created.remove(disk["path"])  # refused: nothing was made
                self.journal.write(self.dest.uri, self._created)
            raise
        if fill:
            self.source.copy_volume(vol, self.dest, twin)

    def _remove_source_copy(self, disk):
        found = self.source.find_volume(disk["path"])
        if found is not None:
            self.source.delete_volume(found[1])

    def _discard_created(self):
        """Remove the volumes made on the destination; the journal keeps those that could not be."""
        left = []
        for path in self._created:
            try:
                found = self.dest.find_volume(path)
                if found is not None:
                    self.dest.delete_volume(found[1])
            except VmmError:
                left.append(path)
        self._created = left
        self.journal.write(self.dest.uri, left)
        return left

    def _failure_report(self, name):
        """What a failed migration left where: the VM's state on the source, volumes the destination keeps."""
        report = ""
        try:
            dom = self.source.find_domain(name)
            if dom is not None:
                report = f"; {name} stays on {self.source.uri} ({self.source.domain_state(dom)})"
        except VmmError:
            report = f"; {self.source.uri} cannot say whether {name} is still there"
        left = self._discard_created()
        if left:
            report += (f"; {len(left)} volume(s) prepared on {self.dest.uri} could not be removed ("
                       f"{', '.join(left)}): the next migration of {name} to that node removes them first")
        return report

    def _discard_leftovers(self):
        """Volumes an earlier, failed migration of this VM left on this destination (the VM is not there)."""
        leftovers = self.journal.read()
        if not leftovers or leftovers["dest"] != self.dest.uri:
            return
        self.dest.refresh_pools()
        for path in leftovers["volumes"]:
            found = self.dest.find_volume(path)
            if found is not None:
                self.log.apply(f"removed {path} left on {self.dest.uri} by an earlier failed migration",
                               self.dest.delete_volume, found[1])
        if not self.log.check_mode:
            self.journal.remove()
