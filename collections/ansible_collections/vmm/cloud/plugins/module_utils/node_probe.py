# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a guest of a given domain type really boot on this node?

Boots a throw-away transient guest from an overlay on a probe image and waits
for a marker on its serial console. Catches the node where /dev/kvm exists but
KVM guests hang.
"""

from __future__ import annotations

import os
import time
import uuid

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import build_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError

CONSOLE_LOG_DIR = "/var/log/vmm/console"


def probe_spec(name, domain_type, disk_path, log_path):
    return {
        "name": name, "uuid": None, "domain_type": domain_type, "machine": "pc", "arch": "x86_64",
        "vcpus": 1, "max_vcpus": 1, "memory_mib": 128, "max_memory_mib": 128,
        "disks": [{"path": disk_path, "format": "qcow2", "target": "vda", "bus": "virtio", "device": "disk",
                   "readonly": False, "boot_order": 1}],
        "interfaces": [], "graphics": None, "serial_log": log_path,
        "metadata": {"owner": None, "image": None, "created": None, "ips": [], "cluster": None,
                     "seed_sha256": None, "ha": False, "managed_disks": []},
    }


def _log_has(path, marker):
    try:
        with open(path, "rb") as handle:
            return marker.encode() in handle.read()
    except OSError:
        return False


def probe_boot(client, qemu_img, image, domain_type, timeout, marker, workdir):
    """{ok, seconds, error} for one domain type."""
    name = f"vmm-probe-{domain_type}-{uuid.uuid4().hex[:8]}"
    disk_path = os.path.join(workdir, f"{name}.qcow2")
    log_path = os.path.join(CONSOLE_LOG_DIR, f"{name}.log")
    started = time.monotonic()
    dom = None
    try:
        os.makedirs(CONSOLE_LOG_DIR, exist_ok=True)
        qemu_img.create_overlay(disk_path, image, qemu_img.info(image)["format"])
        dom = client.create_transient(build_domain_xml(probe_spec(name, domain_type, disk_path, log_path)))
        while time.monotonic() - started < timeout:
            if _log_has(log_path, marker):
                return {"ok": True, "seconds": round(time.monotonic() - started, 2), "error": None}
            time.sleep(0.2)
        return {"ok": False, "seconds": round(time.monotonic() - started, 2),
                "error": f"no {marker!r} on the serial console within {timeout} s"}
    except VmmError as exc:
        return {"ok": False, "seconds": round(time.monotonic() - started, 2), "error": exc.msg}
    finally:
        if dom is not None:
            try:
                client.destroy(dom)
            except VmmError:
                pass
        for path in (disk_path, log_path):
            if os.path.exists(path):
                os.remove(path)
