#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_pool_info
short_description: Check the IP pools and list them with their used and free addresses
description:
  - Checks the pools declared in the inventory (C(vmm_ip_pools)) and counts, per pool, the addresses the VMs hold.
  - The VMs are the only record of what they hold (their definitions, see M(vmm.cloud.vm)); this module reads those
    of this node and counts O(address_taken) for the cluster's other nodes (playbooks/ip_pools.yml does both).
  - A pool declaration that is wrong (overlapping pools, a gateway or a range outside its subnet, an unknown key)
    fails with an error naming the field, such as C(ip_pools[2].gateway).
version_added: 0.5.0
author: vmm contributors (@vmm-dev)
options:
  ip_pools:
    description:
      - The pools, each a dict.
      - C(name) (required), C(subnet) (required; an IPv4 or IPv6 network), C(ranges) (addresses handed out,
        each C(A-B), one address or a CIDR inside the subnet; default the whole subnet), C(gateway), C(dns) (a
        list), C(reserved) (addresses or ranges never handed out), C(cluster) (serves only that cluster's VMs).
      - Exactly one of C(network) (a libvirt network), C(bridge) (a host bridge) or C(routed) (V(true), for routed
        NICs) says which NICs the pool serves.
      - No address may be in two pools.
    type: list
    elements: dict
    default: []
  address_taken:
    description:
      - Addresses the VMs of the cluster's other nodes hold, each an address or C({address, vm, node}) as
        P(vmm.cloud.held_addresses#filter) gives them.
    type: list
    elements: raw
    default: []
  uri:
    description:
      - libvirt connection URI of a node whose VMs are read besides O(address_taken), such as V(qemu:///system).
      - Unset, no libvirt is read (playbooks/ip_pools.yml gives the addresses of every node in O(address_taken)).
    type: str
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Pools with their used and free counts
  vmm.cloud.ip_pool_info:
    ip_pools:
      - name: public-v4
        bridge: br0
        subnet: 192.0.2.0/24
        ranges: ["192.0.2.10-192.0.2.200"]
        gateway: 192.0.2.1
        dns: [192.0.2.53]
        reserved: [192.0.2.100]
      - name: public-v6
        bridge: br0
        subnet: "2001:db8:10::/64"
        gateway: "2001:db8:10::1"
  register: pools
"""

RETURN = r"""
pools:
  description: Every pool, in declaration order.
  returned: always
  type: list
  elements: dict
  sample:
    - name: public-v4
      version: 4
      subnet: 192.0.2.0/24
      gateway: 192.0.2.1
      dns: [192.0.2.53]
      attach: {bridge: br0}
      cluster: null
      size: 190
      used: 2
      free: 188
      addresses: [192.0.2.10, 192.0.2.11]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.addresses import Addresses
from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import IP_POOL_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module


def work(context):
    params = context.module.params
    client = context.client if params["uri"] else None
    pools = Addresses(client, params["ip_pools"], params["address_taken"]).usage()
    return {"pools": pools, "msg": f"{len(pools)} IP pool(s)"}


def main():
    module = AnsibleModule(argument_spec=IP_POOL_INFO_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
