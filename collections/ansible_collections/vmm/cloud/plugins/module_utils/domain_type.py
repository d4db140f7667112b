# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which domain type (kvm or qemu) a VM gets on a node.

`/dev/kvm` existing is not enough: on nested or paravirtual hosts a KVM guest
can hang at boot. The node bootstrap boots a probe guest and records what
really works in the node's facts (node_facts.py); `auto` trusts that record first.
"""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError


def choose_domain_type(requested, available, recorded=None):
    """(domain type, why) for `requested` in auto | kvm | qemu.

    `available` is what libvirt's capabilities offer; `recorded` the probe's
    verdict for this node (None when the node was never probed).
    """
    if requested != "auto":
        if requested not in available:
            raise ValidationError(f"domain_type: {requested} is not offered by libvirt on this node "
                                  f"(available: {', '.join(available) or 'none'})", field="domain_type")
        return requested, "requested"
    if recorded in available:
        return recorded, "probe"
    if "kvm" in available:
        return "kvm", "capabilities"
    if "qemu" in available:
        return "qemu", "capabilities"
    raise ValidationError("domain_type: libvirt offers neither kvm nor qemu on this node", field="domain_type")
