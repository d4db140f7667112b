#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_info
short_description: Facts of one or all virtual machines of a node
description:
  - Reads libvirt domains and returns the same facts as M(vmm.cloud.vm) returns, including the owner, image
    and creation time kept in each domain's metadata, and the addresses leased to its NICs.
version_added: 0.1.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: Only this VM; all VMs when unset.
    type: str
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
notes:
  - A name that does not exist gives an empty RV(vms) list, not an error.
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: All VMs of the node
  vmm.cloud.vm_info:
  register: info

- name: One VM
  vmm.cloud.vm_info:
    name: web1
"""

RETURN = r"""
vms:
  description: Facts of the VMs, sorted by name (see M(vmm.cloud.vm) for the keys).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name
from ansible_collections.vmm.cloud.plugins.module_utils.vm_service import describe_vm


def work(context):
    name = context.module.params["name"]
    client = context.client
    if name:
        dom = client.find_domain(check_name(name))
        domains = [dom] if dom is not None else []
    else:
        domains = client.list_domains()
    vms = sorted((describe_vm(client, context.qemu_img, dom) for dom in domains), key=lambda vm: vm["name"])
    return {"vms": vms, "msg": f"{len(vms)} VM(s)"}


def main():
    module = AnsibleModule(argument_spec=VM_INFO_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
