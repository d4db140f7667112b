# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's libvirt URI from its inventory variables: the one rule the inventory
plugin, the API and the playbooks (filter vmm.cloud.node_uri) share.

Standard library only: the API and the controller load it without libvirt."""

from __future__ import annotations


def node_uri(name, hostvars):
    """The libvirt URI of an inventory node: its vmm_libvirt_uri, qemu:///system for a local connection,
    else qemu+ssh to its ansible_host as its ansible_user (root)."""
    if hostvars.get("vmm_libvirt_uri"):
        return hostvars["vmm_libvirt_uri"]
    if hostvars.get("ansible_connection") == "local":
        return "qemu:///system"
    return f"qemu+ssh://{hostvars.get('ansible_user') or 'root'}@{hostvars.get('ansible_host') or name}/system"
