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
