# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The definition of an adopted VM after a change: its own XML with only what vmm manages replaced. Pure, lxml only.

vmm writes its own VMs whole (build_domain_xml). A domain it adopted (vm_adopt.py) has parts vmm knows nothing of:
UEFI firmware, CPU models, passthrough devices, controllers, other applications' metadata. So its definition is
kept and only vmm's fields are set in it: the domain type, memory, vCPUs, vmm's metadata element, and the disks,
NICs and console that differ from what it has. A disk or NIC that did not change keeps its element as it was
(its PCI address, cache mode, driver options), so the guest sees its devices where they were.
"""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by module_runner.require_libraries()
    etree = None

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    METADATA_NS,
    build_domain_xml,
    parse_domain_xml,
    parse_interface,
)

_TOP = ("memory", "currentMemory", "vcpu")


def domain_xml_for(spec, current, read_current_xml):
    """The XML to define for `spec`: written whole for vmm's own VMs, merged into their definition (read with
    `read_current_xml()`, only for them) for adopted ones; `current` is the VM's parsed definition."""
    if not current["metadata"].get("adopted"):
        return build_domain_xml(spec)
    return merged_domain_xml(spec, read_current_xml())


def _replace(parent, old, new):
    if old is None:
        parent.append(new)
    else:
        parent.replace(old, new)


def _disk_key(element):
    source, target = element.find("source"), element.find("target")
    path = None if source is None else source.get("file") or source.get("dev") or source.get("volume")
    return (target.get("dev") if target is not None else None, path)


def _kept_disk(element, fresh):
    """The current <disk> with the boot order of the fresh one."""
    for boot in element.findall("boot"):
        element.remove(boot)
    boot = fresh.find("boot")
    if boot is not None:
        element.append(boot)
    return element


def _mac(element):
    mac = element.find("mac")
    return (mac.get("address") or "").lower() if mac is not None else None


def _same_nic(current, fresh):
    ours, theirs = parse_interface(fresh), parse_interface(current)
    return all(ours[k] == theirs[k] for k in ("type", "source", "model", "mac", "gateway"))


def _kept_nic(element, fresh):
    """The current <interface> with the filter of the fresh one."""
    for old in element.findall("filterref"):
        element.remove(old)
    for new in fresh.findall("filterref"):
        element.append(new)
    return element


def _devices(devices, fresh_devices, tag, kept, key, same=None):
    current = {key(e): e for e in devices.findall(tag)}
    for element in devices.findall(tag):
        devices.remove(element)
    for new in fresh_devices.findall(tag):
        old = current.get(key(new))
        if old is not None and (same is None or same(old, new)):
            devices.append(kept(old, new))
        else:
            devices.append(new)


def merged_domain_xml(spec, current_xml):
    fresh = etree.fromstring(build_domain_xml(spec).encode())
    root = etree.fromstring(current_xml.encode() if isinstance(current_xml, str) else current_xml)
    current_graphics = parse_domain_xml(current_xml)["graphics"]
    root.set("type", fresh.get("type"))
    for tag in _TOP:
        _replace(root, root.find(tag), fresh.find(tag))
    metadata = root.find("metadata")
    if metadata is None:
        metadata = etree.SubElement(root, "metadata")
    for old in metadata.findall(f"{{{METADATA_NS}}}vm"):
        metadata.remove(old)
    metadata.append(fresh.find(f"metadata/{{{METADATA_NS}}}vm"))
    devices, fresh_devices = root.find("devices"), fresh.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    if fresh_devices.find("disk/boot") is not None:  # per-device boot order (rescue, ISO): no <os><boot dev>
        for old in root.findall("os/boot"):
            old.getparent().remove(old)
    _devices(devices, fresh_devices, "disk", _kept_disk, _disk_key)  # moves fresh elements over: last
    _devices(devices, fresh_devices, "interface", _kept_nic, _mac, _same_nic)
    if current_graphics != spec.get("graphics"):
        for old in devices.findall("graphics"):
            devices.remove(old)
        for new in fresh_devices.findall("graphics"):
            devices.append(new)
        if devices.find("video") is None:
            devices.extend(fresh_devices.findall("video"))
    return etree.tostring(root, pretty_print=True, encoding="unicode")
