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
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import NODE_MAINTENANCE_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.domain_type import NODE_FACTS_PATH, read_node_facts
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now


def write_facts(facts):
    os.makedirs(os.path.dirname(NODE_FACTS_PATH), exist_ok=True)
    tmp = f"{NODE_FACTS_PATH}.{os.getpid()}.tmp"
    with open(tmp, "w") as handle:
        handle.write(json.dumps(facts, indent=4, sort_keys=True) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, NODE_FACTS_PATH)


def main():
    module = AnsibleModule(argument_spec=NODE_MAINTENANCE_SPEC, supports_check_mode=True)
    enabled, reason = module.params["enabled"], module.params["reason"]
    facts = read_node_facts()
    before = {"maintenance": bool(facts.get("maintenance")), "maintenance_reason": facts.get("maintenance_reason")}
    after = {"maintenance": enabled,
             "maintenance_reason": (reason or before["maintenance_reason"]) if enabled else None}
    changed = before != after
    if changed and not module.check_mode:
        facts.update(after, maintenance_since=utc_now() if enabled else None)
        write_facts(facts)
    result = {"changed": changed, "maintenance": enabled,
              "msg": ("in maintenance" if enabled else "out of maintenance") if changed else "already as wanted"}
    if module._diff and changed:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
