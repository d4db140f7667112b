# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot XML: what vmm asks libvirt for, and the facts of what it has. Pure, lxml only.

vmm takes internal snapshots (kept inside the VM's qcow2 disks), the kind libvirt can revert: of a
running VM with its memory (the guest comes back running), of a stopped VM its disks alone. Read-only
disks (the cloud-init seed, an ISO) are left out.
"""

from __future__ import annotations

import datetime

try:
    from lxml import etree
except ImportError:  # reported by module_runner.require_libraries()
    etree = None


def build_snapshot_xml(name, disks, memory, description=None):
    """<domainsnapshot> for `name`: internal, of the writable disks, with the memory or not."""
    root = etree.Element("domainsnapshot")
    etree.SubElement(root, "name").text = name
    if description:
        etree.SubElement(root, "description").text = description
    etree.SubElement(root, "memory", snapshot="internal" if memory else "no")
    holder = etree.SubElement(root, "disks")
    for disk in disks:
        etree.SubElement(holder, "disk", name=disk["target"], snapshot="no" if disk["readonly"] else "internal")
    return etree.tostring(root, encoding="unicode")


def snapshot_blockers(disks):
    """Why the VM's storage cannot take an internal snapshot: one line per writable disk that is not qcow2."""
    return [f"disk {disk['target']} ({disk['path']}) is {disk['format'] or 'of an unknown format'}, and only "
            "qcow2 disks hold internal snapshots" for disk in disks
            if not disk["readonly"] and disk["device"] == "disk" and disk["format"] != "qcow2"]


def parse_snapshot_xml(xml):
    """{name, description, created, state, memory, parent} of one snapshot's definition."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    memory = root.find("memory")
    created = root.findtext("creationTime")
    return {
        "name": root.findtext("name"),
        "description": root.findtext("description"),
        "created": datetime.datetime.fromtimestamp(int(created), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if created else None,
        "state": root.findtext("state"),  # the VM's state when it was taken: running, paused or shutoff
        "memory": memory is not None and memory.get("snapshot", "no") != "no",
        "parent": root.findtext("parent/name"),
    }


def by_creation(snapshots):
    """Oldest first (names break ties)."""
    return sorted(snapshots, key=lambda snap: (snap["created"] or "", snap["name"]))
