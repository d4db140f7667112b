#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ha_info
short_description: The HA records of this node's cluster
description:
  - Lists the records VMs marked C(ha) keep on the cluster's shared store, each with the node the VM lives on.
    A dead node cannot say what it ran; these records can, from any node of its cluster.
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options: {}
notes:
  - Returns an empty list on a node without a shared store.
seealso:
  - module: vmm.cloud.ha_vm
"""

EXAMPLES = r"""
- name: HA VMs of the cluster
  vmm.cloud.ha_info:
  register: ha
"""

RETURN = r"""
records:
  description: Each record (name, uuid, node, cluster, updated), without the definition.
  returned: always
  type: list
  elements: dict
directory:
  description: Where the records are, or null without a shared store.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import HA_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.ha import ha_dir, list_records
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module


def main():
    module = AnsibleModule(argument_spec=HA_INFO_SPEC, supports_check_mode=True)

    def work(context):
        directory = ha_dir(context.node_facts)
        records = list_records(directory) if directory else []
        return {"records": records, "directory": directory, "msg": f"{len(records)} HA record(s)"}

    run_module(module, work)


if __name__ == "__main__":
    main()
