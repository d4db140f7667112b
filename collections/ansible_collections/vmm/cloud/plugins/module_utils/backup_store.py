# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup store: a directory (local, or a shared mount every node sees) with one folder per VM and one per
backup in it:

    <store>/<vm>/<backup>/backup.json   what it is: VM, UUID, node, when, its disks with sizes and SHA-256
                         domain.xml     the VM's definition when it was taken
                         vda.qcow2 ...  each writable disk, whole (its backing image merged in), compressed
                         SHA256SUMS     the same checksums, for sha256sum -c

A backup is written into `.<backup>.partial` and renamed once whole, so the store never lists half a backup;
`.<backup>.progress` says how far a running one is. Standard library only.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import time

from ansible_collections.vmm.cloud.plugins.module_utils.errors import NotFoundError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name

META = "backup.json"


def check_store(path, field="store"):
    if not isinstance(path, str) or not os.path.isabs(path) or ".." in path.split("/") or "\x00" in path:
        raise ValidationError(f"{field}: must be an absolute directory path without '..' (got {path!r})", field=field)
    return os.path.normpath(path)


def new_backup_name(now=None):
    """A name that sorts by time: 20261128T160000Z."""
    return (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")


class BackupStore:
    def __init__(self, root):
        self.root = check_store(root)

    def vm_dir(self, vm):
        return os.path.join(self.root, check_name(vm, field="vm"))

    def path(self, vm, name):
        return os.path.join(self.vm_dir(vm), check_name(name, field="backup"))

    def partial_path(self, vm, name):
        return os.path.join(self.vm_dir(vm), f".{check_name(name, field='backup')}.partial")

    def progress_path(self, vm, name):
        return os.path.join(self.vm_dir(vm), f".{check_name(name, field='backup')}.progress")

    def get(self, vm, name):
        try:
            with open(os.path.join(self.path(vm, name), META)) as handle:
                return json.load(handle)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def require(self, vm, name):
        found = self.get(vm, name)
        if found is None:
            names = [b["name"] for b in self.list(vm)]
            raise NotFoundError(f"backup: VM {vm} has no backup {name} in {self.root} (it has: "
                                f"{', '.join(names) or 'none'})", field="backup")
        return found

    def list(self, vm):
        """The VM's whole backups, oldest first."""
        try:
            names = [n for n in os.listdir(self.vm_dir(vm)) if not n.startswith(".")]
        except FileNotFoundError:
            return []
        found = [self.get(vm, name) for name in names]
        return sorted((b for b in found if b), key=lambda b: (b["created"], b["name"]))

    def progress(self, vm):
        """{backup: progress} of the VM's backups being written."""
        running = {}
        try:
            names = os.listdir(self.vm_dir(vm))
        except FileNotFoundError:
            return running
        for name in names:
            if name.startswith(".") and name.endswith(".progress"):
                try:
                    with open(os.path.join(self.vm_dir(vm), name)) as handle:
                        running[name[1:-len(".progress")]] = json.load(handle)
                except (OSError, ValueError):
                    continue  # it ended while we read
        return running

    def write_progress(self, vm, name, progress):
        path = self.progress_path(vm, name)
        with open(path + ".tmp", "w") as handle:
            json.dump(dict(progress, updated=time.time()), handle)
        os.replace(path + ".tmp", path)

    def start(self, vm, name):
        """A fresh partial folder for backup `name` (a leftover of a failed attempt is removed first)."""
        os.makedirs(self.vm_dir(vm), mode=0o700, exist_ok=True)
        partial = self.partial_path(vm, name)
        if os.path.lexists(partial):
            shutil.rmtree(partial)
        os.mkdir(partial, 0o700)
        return partial

    def finish(self, vm, name, meta):
        """Write the metadata and checksums into the partial folder and make it the backup."""
        partial = self.partial_path(vm, name)
        with open(os.path.join(partial, "SHA256SUMS"), "w") as handle:
            for disk in meta["disks"]:
                handle.write(f"{disk['sha256']}  {disk['file']}\n")
        with open(os.path.join(partial, META), "w") as handle:
            json.dump(meta, handle, indent=2, sort_keys=True)
        os.replace(partial, self.path(vm, name))
        self.end(vm, name)

    def end(self, vm, name):
        """Remove what a backup being written leaves: its partial folder and progress file."""
        partial = self.partial_path(vm, name)
        if os.path.lexists(partial):
            shutil.rmtree(partial)
        if os.path.lexists(self.progress_path(vm, name)):
            os.remove(self.progress_path(vm, name))

    def delete(self, vm, name):
        shutil.rmtree(self.path(vm, name))

    def beyond(self, vm, keep):
        """Names of the oldest backups past the `keep` newest."""
        backups = self.list(vm)
        return [b["name"] for b in backups[:max(len(backups) - keep, 0)]]
