#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_address
short_description: Add an address from the IP pools to a NIC of a VM, or remove one
description:
  - What a hosting provider does when a customer buys another IP, or gives one back. The address is checked against
    the pools serving the NIC (its network, bridge or routed mode, and the VM's cluster) and against every VM, under
    the lock M(vmm.cloud.vm) takes for the same.
  - The VM's definition records it (the only record; see M(vmm.cloud.vm)); the NIC's anti-spoofing filter follows
    at once, also in the running guest; the seed's network config is rewritten and the guest applies it at its next
    start (vmm's seeds ask cloud-init to apply the network config at every boot); a reboot inside the guest keeps
    the seed QEMU opened when it started. A VM whose seed holds a network config of the user's own keeps it; the
    result's C(guest_config) says so.
version_added: 0.5.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: The VM.
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  address:
    description:
      - An address to hold (or with O(state=absent), to give back), or V(auto) to hold O(count) addresses of
        O(version) on the NIC, taking the free ones it lacks from the pools.
    type: str
    default: auto
  version:
    description: The IP version of V(auto).
    type: int
    choices: [4, 6]
    default: 4
  nic:
    description: The NIC, by its index in the VM's definition.
    type: int
    default: 0
  count:
    description: With V(auto), how many addresses of O(version) the NIC holds at least.
    type: int
    default: 1
  state:
    description: V(present) holds the address; V(absent) gives it back to its pool.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - vmm.cloud.ip_pools
seealso:
  - module: vmm.cloud.vm
  - module: vmm.cloud.ip_pool_info
"""

EXAMPLES = r"""
- name: A second IPv4 address for vps7
  vmm.cloud.vm_address:
    name: vps7
    count: 2
    ip_pools: "{{ vmm_ip_pools }}"

- name: Give 192.0.2.15 back
  vmm.cloud.vm_address:
    name: vps7
    address: 192.0.2.15
    state: absent
    ip_pools: "{{ vmm_ip_pools }}"
"""

RETURN = r"""
vm:
  description: The VM's name, the NIC (index and MAC) and the addresses it holds after the run.
  returned: success
  type: dict
  sample: {name: vps7, nic: 0, mac: "52:54:00:12:34:56", addresses: [{address: 192.0.2.10, prefix: 24,
           gateway: 192.0.2.1, pool: public-v4}, {address: 192.0.2.15, prefix: 24, gateway: 192.0.2.1,
           pool: public-v4}]}
applied_live:
  description: What changed in the running guest (C(filter), its anti-spoofing binding).
  returned: success
  type: list
  elements: str
pending_restart:
  description: What the guest applies at its next start (C(addresses), from its seed), a stop and a start.
  returned: success
  type: list
  elements: str
guest_config:
  description: Set when the guest is not told through its seed (its network config is the user's own).
  returned: when the VM's seed holds a network config of the user's own
  type: str
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_ADDRESS_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_address import VmAddressService


def main():
    module = AnsibleModule(argument_spec=VM_ADDRESS_SPEC, supports_check_mode=True)
    run_module(module, lambda context: VmAddressService(context).ensure())


if __name__ == "__main__":
    main()
