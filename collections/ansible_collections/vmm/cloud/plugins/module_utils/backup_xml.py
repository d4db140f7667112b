# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The <domainbackup> vmm asks libvirt for: pull mode, the VM's writable disks exported over NBD on a unix
socket, each with a scratch file for the blocks the guest writes meanwhile. Pure, lxml only."""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by module_runner.require_libraries()
    etree = None


def build_pull_backup_xml(socket, disks, scratch):
    """`disks`: the VM's disks (parsed); `scratch`: {target: scratch file} of those to back up."""
    root = etree.Element("domainbackup", mode="pull")
    etree.SubElement(root, "server", transport="unix", socket=socket)
    holder = etree.SubElement(root, "disks")
    for disk in disks:
        if disk["target"] in scratch:
            element = etree.SubElement(holder, "disk", name=disk["target"], backup="yes", type="file")
            etree.SubElement(element, "scratch", file=scratch[disk["target"]])
        else:
            etree.SubElement(holder, "disk", name=disk["target"], backup="no")
    return etree.tostring(root, encoding="unicode")


def nbd_uri(socket, target):
    """What qemu-img reads the export of disk `target` from."""
    return f"nbd+unix:///{target}?socket={socket}"
