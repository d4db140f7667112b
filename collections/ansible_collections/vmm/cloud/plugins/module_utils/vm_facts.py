# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `vm` dict every module returns: parsed domain facts plus live state."""

from __future__ import annotations


def vm_facts(facts, state, leases=None, autostart=None, disk_size=None):
    """User-facing facts of one VM. Secrets (console password) never appear."""
    leases = leases or {}
    meta = facts["metadata"]
    interfaces = []
    for nic in facts["interfaces"]:
        ips = [nic["source"]] if nic["type"] == "routed" else leases.get((nic.get("mac") or "").lower(), [])
        interfaces.append({"type": nic["type"], nic["type"]: nic["source"], "mac": nic.get("mac"),
                           "model": nic.get("model"), "ip": ips[0] if ips else None, "ips": ips,
                           "target_dev": nic.get("target_dev"),
                           "addresses": [{k: held.get(k) for k in ("address", "prefix", "gateway", "pool")}
                                         for held in nic.get("addresses") or []]})
    graphics = facts.get("graphics")
    vnc = None
    if graphics and graphics.get("type") == "vnc":
        vnc = {"listen": graphics.get("listen"), "port": graphics.get("port"),
               "password_set": bool(graphics.get("password"))}
    return {
        "name": facts["name"],
        "uuid": facts["uuid"],
        "state": state,
        "domain_type": facts["domain_type"],
        "machine": facts.get("machine"),
        "vcpus": facts["vcpus"],
        "max_vcpus": facts["max_vcpus"],
        "memory": facts["memory_mib"],
        "max_memory": facts["max_memory_mib"],
        "disk_size": None if disk_size is None else round(disk_size / 1024 ** 3, 2),
        "disks": [{k: disk.get(k) for k in ("target", "path", "format", "device", "readonly")}
                  for disk in facts["disks"]],
        "interfaces": interfaces,
        "ips": sorted({ip for nic in interfaces for ip in nic["ips"]} | set(meta.get("ips") or [])),
        "vnc": vnc,
        "console_log": facts.get("serial_log"),
        # an agent answering in the guest: addresses from inside it, shutdown through it (ACPI otherwise)
        "guest_agent": dict(facts.get("guest_agent") or {"channel": False, "connected": False}),
        "autostart": autostart,
        "owner": meta.get("owner"),
        "cluster": meta.get("cluster"),
        "image": meta.get("image"),
        "created": meta.get("created"),
        "reinstalled": meta.get("reinstalled"),
        "snapshot_limit": meta.get("snapshot_limit"),
        "iso": meta.get("iso"),
        "rescue": meta.get("rescue"),
        "adopted": meta.get("adopted"),
        "ha": bool(meta.get("ha")),
    }
