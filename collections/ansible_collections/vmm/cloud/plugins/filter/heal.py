# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: heal_plan
short_description: What cluster_heal restarts and releases
description:
  - From the M(vmm.cloud.node_info) and M(vmm.cloud.ha_info) results of a cluster's nodes and the nodes confirmed
    dead, the HA VMs to restart (their home is dead and no node that answered has them) and the stale copies to
    release (a node that came back still has a VM that lives on its recorded home).
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
positional: ha_results, dead
options:
  _input:
    description: Node name to its registered M(vmm.cloud.node_info) result.
    type: dict
    required: true
  ha_results:
    description: Node name to its registered M(vmm.cloud.ha_info) result.
    type: dict
    required: true
  dead:
    description: Nodes confirmed dead.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
plan: "{{ node_results | vmm.cloud.heal_plan(ha_results, ['node1']) }}"
"""

RETURN = r"""
_value:
  description: answered, suspects (nodes that did not answer), lost (HA records) and stale (name, node, home).
  type: dict
"""

from ansible_collections.vmm.cloud.plugins.module_utils.ha import heal_plan


class FilterModule:
    def filters(self):
        return {"heal_plan": heal_plan}
