# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for host-level libvirt XML: storage pools and capabilities."""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by module_runner.require_libraries()
    etree = None


def _root(xml):
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)


def pool_target_path(pool_xml):
    """The <target><path> of a storage pool definition, or None."""
    path = _root(pool_xml).findtext("target/path")
    return path.strip() if path else None


def pool_type(pool_xml):
    """The type of a storage pool definition (dir, logical, netfs, ...)."""
    return _root(pool_xml).get("type")


def domain_types(capabilities_xml, arch="x86_64"):
    """Domain types (qemu, kvm) libvirt offers for hvm guests of `arch`."""
    found = []
    for guest in _root(capabilities_xml).iter("guest"):
        if guest.findtext("os_type") != "hvm":
            continue
        arch_el = guest.find("arch")
        if arch_el is None or arch_el.get("name") != arch:
            continue
        for dom in arch_el.iter("domain"):
            kind = dom.get("type")
            if kind and kind not in found:
                found.append(kind)
    return found


def parse_volume_xml(volume_xml):
    """{name, capacity, format, backing_path, backing_format} of a storage volume definition."""
    root = _root(volume_xml)
    capacity = root.find("capacity")
    unit = (capacity.get("unit") or "bytes") if capacity is not None else "bytes"
    scale = {"bytes": 1, "b": 1, "kib": 1024, "k": 1024, "mib": 1024 ** 2, "m": 1024 ** 2, "gib": 1024 ** 3,
             "g": 1024 ** 3}.get(unit.lower(), 1)
    target_format = root.find("target/format")
    backing_format = root.find("backingStore/format")
    return {
        "name": root.findtext("name"),
        "capacity": int(capacity.text) * scale if capacity is not None and capacity.text else 0,
        "format": target_format.get("type") if target_format is not None else None,
        "backing_path": (root.findtext("backingStore/path") or "").strip() or None,
        "backing_format": backing_format.get("type") if backing_format is not None else None,
    }


def build_volume_xml(volume):
    """A volume definition from parse_volume_xml()'s dict: a copy's empty twin, backing file included."""
    root = etree.Element("volume")
    etree.SubElement(root, "name").text = volume["name"]
    etree.SubElement(root, "capacity", unit="bytes").text = str(volume["capacity"])
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "format", type=volume["format"] or "raw")
    if volume.get("backing_path"):
        backing = etree.SubElement(root, "backingStore")
        etree.SubElement(backing, "path").text = volume["backing_path"]
        etree.SubElement(backing, "format", type=volume.get("backing_format") or "raw")
    return etree.tostring(root, encoding="unicode")
