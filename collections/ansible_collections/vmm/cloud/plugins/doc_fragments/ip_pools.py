# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The options of the modules that read the IP pools and count what the VMs hold."""

    DOCUMENTATION = r"""
options:
  ip_pools:
    description:
      - The IP pools of the cluster, as declared in the inventory (C(vmm_ip_pools)), each a dict.
      - C(name) (required), C(subnet) (required; an IPv4 or IPv6 network), C(ranges) (addresses handed out,
        each C(A-B), one address or a CIDR inside the subnet; default the whole subnet), C(gateway), C(dns) (a
        list), C(reserved) (addresses or ranges never handed out), C(cluster) (serves only that cluster's VMs).
      - Exactly one of C(network) (a libvirt network), C(bridge) (a host bridge) or C(routed) (V(true), for routed
        NICs) says which NICs the pool serves.
      - They are checked on every run (no address in two pools, a gateway, range or reserved address inside its
        subnet, no unknown key), with an error naming the field, such as C(ip_pools[2].gateway).
    type: list
    elements: dict
    default: []
  address_taken:
    description:
      - Addresses the VMs of the cluster's other nodes hold, which count as used (M(vmm.cloud.node_info) returns
        each VM's C(ips)); each an address, or C({address, vm, node}) as P(vmm.cloud.held_addresses#filter) gives
        them, so that a refusal names the VM holding the address and its node. This node's VMs are read from it.
      - Addresses are chosen under one lock, on the cluster's shared store when the node records one
        (C(shared_dir)), else on the node (C(/var/lib/vmm/locks)), held until the VM records them.
    type: list
    elements: raw
    default: []
"""
