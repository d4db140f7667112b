# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: node_pools
short_description: The IP pools some nodes declare, each once
description:
  - For a list of inventory names, the pools of their C(vmm_ip_pools) (as each node sees it, group and host
    variables included), each pool once, in the order of the names and of their lists. A play on the controller
    does not see the nodes' group variables itself; this gives it theirs.
  - One pool name declared two ways for two nodes is an error naming both.
version_added: 0.5.0
author: vmm contributors (@vmm-dev)
positional: hostvars
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
"""

EXAMPLES = r"""
ip_pools: "{{ vmm_candidates | vmm.cloud.node_pools(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Pool declarations, as written.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

VARIABLE = "vmm_ip_pools"


def node_pools(hosts, hostvars):
    pools, seen = [], {}
    for host in hosts:
        variables = hostvars[host] if host in hostvars else {}
        declared = variables[VARIABLE] if VARIABLE in variables else []
        for index, pool in enumerate(declared or []):
            name = pool.get("name") if isinstance(pool, dict) else None
            if name not in seen:
                seen[name] = (host, index, pool)
                pools.append(pool)
            elif seen[name][2] != pool:
                first, at = seen[name][:2]
                raise AnsibleFilterError(f"{VARIABLE}[{index}].name: pool {name} of node {host} is declared "
                                         f"otherwise for node {first} (its {VARIABLE}[{at}])")
    return pools


class FilterModule:
    def filters(self):
        return {"node_pools": node_pools}
