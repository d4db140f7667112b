# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: held_addresses
short_description: The addresses the VMs of some nodes hold, from their registered node_info results
description:
  - For a list of inventory names, every address in the C(ips) of the VMs their registered M(vmm.cloud.node_info)
    result lists, each with the VM and the node holding it, sorted by address and without duplicates; what
    M(vmm.cloud.vm), M(vmm.cloud.vm_address) and M(vmm.cloud.ip_pool_info) take as C(address_taken) (so that a
    refusal names the VM holding the address).
  - A host without a result (unreachable, skipped, or never asked) adds nothing.
version_added: 0.5.0
author: vmm contributors (@vmm-dev)
positional: hostvars, name
options:
  _input:
    description: Inventory names.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  name:
    description: The variable the node_info results are registered under.
    type: str
    default: vmm_node_facts
"""

EXAMPLES = r"""
address_taken: "{{ vmm_candidates | difference([vmm_placed.node]) | vmm.cloud.held_addresses(hostvars) }}"
"""

RETURN = r"""
_value:
  description: One C({address, vm, node}) per address a VM holds, sorted by address.
  type: list
  elements: dict
"""


def held_addresses(hosts, hostvars, name="vmm_node_facts"):
    held = set()
    for host in hosts:
        variables = hostvars[host] if host in hostvars else {}
        result = variables[name] if name in variables else {}
        for vm in ((result or {}).get("node") or {}).get("vms") or []:
            held.update((str(ip), str(vm.get("name")), str(host)) for ip in vm.get("ips") or [])
    return [{"address": address, "vm": vm, "node": node} for address, vm, node in sorted(held)]


class FilterModule:
    def filters(self):
        return {"held_addresses": held_addresses}
