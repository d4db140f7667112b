#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: placement
short_description: Choose the node of a new VM and reserve room on it
description:
  - Runs on the controller (an action plugin). Given the M(vmm.cloud.node_info) results of the candidate nodes,
    picks the node with the most memory left after placement, skipping nodes that are unreachable, whose libvirtd
    does not answer, that are in maintenance, where no domain type boots, or where the VM does not fit (memory
    against total x O(policy.memory_overcommit) minus O(policy.memory_reserve_mib), vCPUs against logical CPUs x
    O(policy.cpu_overcommit), disk against the pool's free space). Every skipped node comes with its reason.
  - The choice is recorded in a ledger of reservations under an exclusive lock, so that creates running at the
    same time never count the same room twice. Release the reservation with O(state=released) once the create
    is over, with O(created=true) when the VM now exists.
  - A VM that already exists on one of the nodes is placed where it is.
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: Name of the VM.
    type: str
    required: true
  candidates:
    description:
      - Inventory names of the candidate nodes. Placement reads each one's registered M(vmm.cloud.node_info)
        result from its host variables (O(facts_var)); a node without one counts as not asked (skipped).
      - Give this or O(nodes).
    type: list
    elements: str
  facts_var:
    description: The host variable O(candidates) registered their M(vmm.cloud.node_info) result in.
    type: str
    default: vmm_node_facts
  nodes:
    description: Candidate node name to its M(vmm.cloud.node_info) result (unreachable results included), when the
      results are not in host variables.
    type: dict
    default: {}
  memory:
    description: Memory of the VM in MiB.
    type: int
    default: 512
  vcpus:
    description: vCPUs of the VM.
    type: int
    default: 1
  disk_size:
    description: Disk of the VM in GiB.
    type: int
    default: 1
  pool:
    description: Storage pool the VM's disk goes to.
    type: str
    default: vmm
  policy:
    description: Overcommit ratios and reserves.
    type: dict
    default: {}
    suboptions:
      cpu_overcommit:
        description: vCPUs per logical CPU.
        type: float
        default: 4.0
      memory_overcommit:
        description: Memory committed per MiB of the node.
        type: float
        default: 1.0
      memory_reserve_mib:
        description: Memory kept for the node itself.
        type: int
        default: 256
      disk_reserve_gib:
        description: Disk kept free in the pool.
        type: int
        default: 1
  state:
    description: V(reserved) chooses a node and reserves room; V(released) ends the VM's reservation.
    type: str
    choices: [reserved, released]
    default: reserved
  created:
    description:
      - With O(state=released), the VM was created. Its reservation is then kept, marked done, and counts for
        every later placement whose facts were read before it was done (O(facts_since)), since those facts do
        not show the new domain; a failed create's reservation (V(false)) is dropped at once.
    type: bool
    default: false
  facts_since:
    description:
      - Time (seconds since the epoch, controller clock) before the candidates' facts were read. Reservations
        of creates done before it no longer count, the facts showing their VMs (or that they are gone).
        Unset, the facts' age is unknown and done reservations do not count.
    type: float
  ledger:
    description: The reservations file on the controller.
    type: path
    default: /var/lib/vmm/placement/reservations.json
  ttl:
    description: Seconds after which a reservation lapses even if never released (or, done, after it was done).
    type: int
    default: 900
  ip_pools:
    description:
      - The IP pools (see M(vmm.cloud.ip_pool_info)); unset, the chosen node's (O(pools_var)). The new VM's
        pool addresses are chosen here, where every create meets, and reserved with the room; RV(networks) gives
        them to M(vmm.cloud.vm), which checks them again on the node.
    type: list
    elements: dict
    default: []
  pools_var:
    description: Without O(ip_pools), the chosen node's variable holding its pools (its group variables too).
    type: str
    default: vmm_ip_pools
  address_taken:
    description:
      - Addresses held on nodes that are not candidates (see P(vmm.cloud.held_addresses#filter)); the candidates'
        are read from their facts.
    type: list
    elements: raw
    default: []
  networks:
    description: The new VM's O(vmm.cloud.vm#module:networks), as asked (none, one NIC on C(default)).
    type: list
    elements: dict
    default: []
notes:
  - Runs on the controller only; check mode reports the choice without reserving.
seealso:
  - module: vmm.cloud.node_info
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
# In a play on the nodes of cluster a, each registered its facts:
#   - vmm.cloud.node_info:
#     register: vmm_node_facts
- name: Choose a node for web1 (on the controller)
  vmm.cloud.placement:
    name: web1
    memory: 2048
    vcpus: 2
    disk_size: 20
    candidates: "{{ groups['cluster_a'] }}"
  register: placed
"""

RETURN = r"""
node:
  description: The chosen node.
  returned: success
  type: str
existing:
  description: Whether the VM already existed there.
  returned: success
  type: bool
verdicts:
  description: Each candidate with ok, reason, memory_left_mib, vcpus_left and disk_left_gib, best first.
  returned: always
  type: list
  elements: dict
skipped:
  description: Node name to the reason it was not chosen.
  returned: always
  type: dict
seconds:
  description: Time the decision took.
  returned: success
  type: float
networks:
  description: O(networks) with each NIC's C(ipv4) and C(ipv6) (and a routed NIC's C(routed)) set to the reserved
    address, or V(none); O(networks) as given when there are no pools or the VM exists.
  returned: success
  type: list
  elements: dict
addresses:
  description: The reserved pool addresses.
  returned: when a new VM is placed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import PLACEMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=PLACEMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="vmm.cloud.placement runs on the controller as an action plugin; "
                         "this module file only carries its documentation")


if __name__ == "__main__":
    main()
