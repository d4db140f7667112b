# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: registered
short_description: What each of some hosts registered under one name, by host
description:
  - For a list of inventory names, the variable each one registered under O(name), as a dict by host; a host that
    has none (unreachable before the task, or never asked) gets O(default).
version_added: 0.4.0
author: vmm contributors (@vmm-dev)
positional: hostvars, name, default
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
    description: The registered variable.
    type: str
    required: true
  default:
    description: The value for a host that has none.
    type: raw
    default: {}
"""

EXAMPLES = r"""
node_results: "{{ groups['cluster_a'] | vmm.cloud.registered(hostvars, 'vmm_node_facts', {'unreachable': true}) }}"
"""

RETURN = r"""
_value:
  description: Host name to its registered value.
  type: dict
"""


def registered(hosts, hostvars, name, default=None):
    found = {}
    for host in hosts:
        variables = hostvars[host] if host in hostvars else {}
        found[host] = variables[name] if name in variables else ({} if default is None else default)
    return found


class FilterModule:
    def filters(self):
        return {"registered": registered}
