# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that runs qemu-img.

Commands are argv lists built by pure functions (unit-tested by tables); the
class only runs them through the `run` callable it is given, which takes an
argv list and returns (rc, stdout, stderr), like AnsibleModule.run_command.
"""

from __future__ import annotations

import json

from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError

QEMU_IMG = "qemu-img"


def info_argv(path, backing_chain=False):
    # -U: read the header even while a running VM holds the image's lock.
    argv = [QEMU_IMG, "info", "--output", "json", "-U"]
    if backing_chain:
        argv.append("--backing-chain")
    return argv + [path]


def overlay_argv(path, backing, backing_format, size_bytes=None):
    argv = [QEMU_IMG, "create", "-q", "-f", "qcow2", "-F", backing_format, "-b", backing, path]
    return argv + [str(size_bytes)] if size_bytes else argv


def convert_argv(src, src_format, dst, dst_format="qcow2"):
    return [QEMU_IMG, "convert", "-q", "-f", src_format, "-O", dst_format, src, dst]


def resize_argv(path, size_bytes, fmt="qcow2"):
    return [QEMU_IMG, "resize", "-q", "-f", fmt, path, str(size_bytes)]


class QemuImg:
    def __init__(self, run):
        self._run = run

    def _check(self, argv):
        rc, out, err = self._run(argv)
        if rc != 0:
            detail = (err or out or "").strip() or f"exit code {rc}"
            raise VmmError(f"{' '.join(argv[:2])} failed on {argv[-1]}: {detail}")
        return out

    def info(self, path):
        """qemu-img's facts about one image: format, virtual-size, backing-filename, ..."""
        return json.loads(self._check(info_argv(path)))

    def backing_chain(self, path):
        """Every image in the chain, the top first (a list of info dicts)."""
        chain = json.loads(self._check(info_argv(path, backing_chain=True)))
        return chain if isinstance(chain, list) else [chain]

    def create_overlay(self, path, backing, backing_format, size_bytes=None):
        self._check(overlay_argv(path, backing, backing_format, size_bytes))

    def convert(self, src, src_format, dst, dst_format="qcow2"):
        self._check(convert_argv(src, src_format, dst, dst_format))

    def create(self, path, size_bytes):
        """A new, empty qcow2 image."""
        self._check([QEMU_IMG, "create", "-q", "-f", "qcow2", path, str(size_bytes)])

    def resize(self, path, size_bytes, fmt="qcow2"):
        self._check(resize_argv(path, size_bytes, fmt))
