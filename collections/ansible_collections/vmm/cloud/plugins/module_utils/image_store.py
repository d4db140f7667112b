# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image store: base images in a libvirt directory pool, one JSON file of
metadata beside each (`<name>.json`). VMs get overlays on these files, so an
image is never replaced or deleted while an overlay still uses it."""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import shutil

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name

FORMATS = ("qcow2", "raw")
ISO9660_MAGIC_OFFSET = 32769  # "CD001" of the primary volume descriptor, sector 16 + 1


def is_iso9660(path):
    """Whether the file holds an ISO 9660 filesystem (a CD image): what the store keeps as an ISO."""
    try:
        with open(path, "rb") as handle:
            handle.seek(ISO9660_MAGIC_OFFSET)
            return handle.read(5) == b"CD001"
    except OSError:
        return False


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageStore:
    def __init__(self, client, qemu_img, pool="vmm-images"):
        self.client = client
        self.qemu_img = qemu_img
        self.pool = pool
        self._directory = None

    @property
    def directory(self):
        if self._directory is None:
            self._directory = self.client.pool_path(self.pool, field="image_pool")
        return self._directory

    def _meta_path(self, name):
        return os.path.join(self.directory, f"{name}.json")

    def get(self, name):
        """The image's facts, or None when the store has no such image."""
        check_name(name)
        try:
            with open(self._meta_path(name)) as handle:
                meta = json.load(handle)
        except FileNotFoundError:
            return None
        if not os.path.exists(meta.get("path", "")):
            return None
        meta.setdefault("kind", "disk")  # stores written before ISO images
        return meta

    def list(self):
        names = sorted(f[:-5] for f in os.listdir(self.directory) if f.endswith(".json"))
        return [image for image in (self.get(n) for n in names) if image]

    def resolve(self, image, field="image"):
        """(path, format, name) of a disk image given by store name or absolute path."""
        if image.startswith("/"):
            if not os.path.isfile(image):
                raise NotFoundError(f"{field}: no such file {image}", field=field)
            return image, self.qemu_img.info(image)["format"], None
        found = self._found(image, field)
        if found.get("kind") == "iso":
            raise ValidationError(f"{field}: {image} is an ISO image; a VM boots it with `iso` or `rescue_image`, "
                                  "its disk comes from a disk image", field=field)
        return found["path"], found["format"], found["name"]

    def resolve_iso(self, image, field="iso"):
        """The path of the store's ISO image `image`."""
        found = self._found(image, field)
        if found.get("kind") != "iso":
            raise ValidationError(f"{field}: {image} is a disk image, not an ISO", field=field)
        return found["path"]

    def _found(self, image, field):
        found = self.get(check_name(image, field=field))
        if found is None:
            raise NotFoundError(f"{field}: no image called {image} in the store {self.directory}", field=field)
        return found

    def name_of(self, path):
        """The store name of the image at `path`, or None."""
        return next((image["name"] for image in self.list() if image["path"] == path), None)

    def plan_register(self, name, src, checksum=None):
        """('create' | 'replace' | None, facts of src) for registering src as name."""
        check_name(name)
        if not os.path.isfile(src):
            raise NotFoundError(f"src: no such file {src}", field="src")
        info = self.qemu_img.info(src)
        if info["format"] not in FORMATS:
            raise ValidationError(f"src: format {info['format']} is not one of {', '.join(FORMATS)}", field="src")
        if info.get("backing-filename"):
            raise ValidationError("src: the image has a backing file; register a standalone image", field="src")
        sha256 = checksum or file_sha256(src)
        current = self.get(name)
        if current is None:
            return "create", info, sha256
        if current["sha256"] == sha256:
            return None, info, sha256
        users = self.users(current["path"])
        if users:
            raise ConflictError(f"src: image {name} differs from {src} but is used by VMs {', '.join(users)}; "
                                "register it under a new name", field="src")
        return "replace", info, sha256

    def register(self, name, src, info, sha256, metadata):
        """Copy src into the store as name. Both files are written under temporary names and renamed only once
        both are whole, so a store that runs out of space keeps nothing of the attempt."""
        kind = "iso" if info["format"] == "raw" and is_iso9660(src) else "disk"
        path = os.path.join(self.directory, f"{name}.{'iso' if kind == 'iso' else info['format']}")
        meta = {"name": name, "path": path, "format": info["format"], "virtual_size": info["virtual-size"],
                "sha256": sha256, "source": src, "registered": utc_now(), "kind": kind}
        meta.update(metadata or {})
        partials = (f"{path}.partial", f"{self._meta_path(name)}.partial")
        try:
            shutil.copyfile(src, partials[0])
            os.chmod(partials[0], 0o644)
            with open(partials[1], "w") as handle:
                json.dump(meta, handle, indent=2, sort_keys=True)
        except OSError as exc:
            for partial in partials:
                if os.path.lexists(partial):
                    os.remove(partial)
            raise self._write_error(name, src, exc) from None
        os.replace(partials[0], path)
        os.replace(partials[1], self._meta_path(name))
        self.client.refresh_pool(self.pool)
        return meta

    def capture(self, name, disk, disk_format, metadata):
        """A standalone qcow2 image `name` from a VM's disk, its backing chain merged in (qemu-img convert),
        written under a temporary name and renamed once whole, as register() does."""
        path = os.path.join(self.directory, f"{name}.qcow2")
        partials = (f"{path}.partial", f"{self._meta_path(name)}.partial")
        try:
            self.qemu_img.convert(disk, disk_format, partials[0])
            os.chmod(partials[0], 0o644)
            info = self.qemu_img.info(partials[0])
            meta = {"name": name, "path": path, "format": "qcow2", "virtual_size": info["virtual-size"],
                    "sha256": file_sha256(partials[0]), "registered": utc_now(), "kind": "disk", **metadata}
            with open(partials[1], "w") as handle:
                json.dump(meta, handle, indent=2, sort_keys=True)
        except (OSError, VmmError):
            for partial in partials:
                if os.path.lexists(partial):
                    os.remove(partial)
            raise
        os.replace(partials[0], path)
        os.replace(partials[1], self._meta_path(name))
        self.client.refresh_pool(self.pool)
        return meta

    def _write_error(self, name, src, exc):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(self.directory).free
            return ConflictError(f"src: no space left on the image store {self.directory} (pool {self.pool}) for "
                                 f"image {name}: {src} is {os.path.getsize(src) / 1024 ** 2:.1f} MiB, "
                                 f"{free / 1024 ** 2:.1f} MiB free; nothing was registered", field="src")
        return VmmError(f"src: copying {src} into the image store {self.directory}: {exc.strerror}; nothing was "
                        "registered", field="src")

    def users(self, path):
        """Names of the VMs whose disks sit on `path` (directly or down their backing chain)."""
        users = []
        for dom in self.client.list_domains():
            facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
            for disk in facts["disks"]:
                if disk["path"] and self._chain_contains(disk["path"], path):
                    users.append(facts["name"])
                    break
        return sorted(users)

    def _chain_contains(self, disk_path, path):
        if os.path.realpath(disk_path) == os.path.realpath(path):
            return True
        if not os.path.exists(disk_path):
            return False
        chain = self.qemu_img.backing_chain(disk_path)
        return any(os.path.realpath(item.get("filename", "")) == os.path.realpath(path) for item in chain[1:])

    def ensure_unused(self, image):
        users = self.users(image["path"])
        if users:
            raise ConflictError(f"name: image {image['name']} is used by VMs {', '.join(users)}", field="name")

    def delete(self, name):
        current = self.get(name)
        if current is None:
            return None
        self.ensure_unused(current)
        os.remove(current["path"])
        os.remove(self._meta_path(name))
        self.client.refresh_pool(self.pool)
        return current
