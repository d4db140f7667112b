#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: node_maintenance
short_description: Put a node in maintenance, or take it out
description:
  - Records in the node's facts (C(/var/lib/vmm/node.json)) whether the node is in maintenance. A node in
    maintenance is left out of placement (M(vmm.cloud.placement) says so); C(playbooks/node_drain.yml) sets it
    and then migrates every VM off the node.
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options:
  enabled:
    description: Whether the node is in maintenance.
    type: bool
    default: true
  reason:
    description: Why, shown with the node's facts.
    type: str
notes:
  - Check mode and diff are supported.
seealso:
  - module: vmm.cloud.node_info
  - module: vmm.cloud.placement
"""

EXAMPLES = r"""
- name: Maintenance for a kernel update
  vmm.cloud.node_maintenance:
    enabled: true
    reason: kernel update
"""

RETURN = r"""
maintenance:
  description: Whether the node is in maintenance now.
  returned: always
  type: bool
actions:
  description: What the run did (or would do in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import NODE_MAINTENANCE_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.node_facts import set_maintenance


def main():
    module = AnsibleModule(argument_spec=NODE_MAINTENANCE_SPEC, supports_check_mode=True)

    def work(context):
        return set_maintenance(context.log, module.params["enabled"], module.params["reason"], utc_now())

    run_module(module, work)


if __name__ == "__main__":
    main()
