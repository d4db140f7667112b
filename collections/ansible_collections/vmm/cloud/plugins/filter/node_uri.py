# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: node_uri
short_description: A node's libvirt URI from its inventory variables
description:
  - The libvirt URI of an inventory node, by the rule the P(vmm.cloud.libvirt#inventory) inventory plugin and the jobs
    API use too.
  - The node's C(vmm_libvirt_uri) when set; C(qemu:///system) when its C(ansible_connection) is C(local); else
    C(qemu+ssh://USER@HOST/system) with its C(ansible_user) (default C(root)) and its C(ansible_host) (default its
    inventory name).
version_added: 0.3.0
author: vmm contributors (@vmm-dev)
positional: hostvars
options:
  _input:
    description: The node's inventory name.
    type: str
    required: true
  hostvars:
    description: The node's variables, usually C(hostvars[name]).
    type: dict
    required: true
"""

EXAMPLES = r"""
source_uri: "{{ 'node1' | vmm.cloud.node_uri(hostvars['node1']) }}"
"""

RETURN = r"""
_value:
  description: The node's libvirt URI.
  type: str
"""

from ansible_collections.vmm.cloud.plugins.module_utils.node_uri import node_uri


class FilterModule:
    def filters(self):
        return {"node_uri": node_uri}
