#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_adopt
short_description: Adopt a libvirt domain that vmm did not make
description:
  - Takes an existing domain of the node under vmm's management without restarting it. vmm's metadata (owner,
    cluster, the time of the adoption, which disks vmm manages; the image is unknown) is written into the domain's
    definition and into the running guest's with libvirt's setMetadata. Nothing else of the domain changes.
  - From then on every vmm operation works on the VM (power, snapshots, backups, data disks, rescue mode,
    migration). A change M(vmm.cloud.vm) makes is merged into the domain's own definition. Its firmware, CPU model,
    controllers and other devices stay, and so do its unchanged disks and NICs, as they were.
  - A disk named in O(managed_disks) is vmm's from then on. It is deleted with the VM, and a reinstall replaces
    the system disk. The other disks are never touched.
  - A domain vmm made is refused. Adopting again with other options updates the adoption.
version_added: 0.7.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: Name of the domain (letters, digits, C(.), C(_) or C(-); rename others first).
    type: str
    required: true
  state:
    description: V(present) adopts; V(absent) gives the domain back (vmm's metadata removed, nothing else).
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: The user who owns the VM (the jobs API's user name); unset, nobody (administrators only).
    type: str
  cluster:
    description: The cluster the VM belongs to.
    type: str
  managed_disks:
    description: Targets (C(vda), C(sdb), ...) of the writable disks vmm manages from now on.
    type: list
    elements: str
    default: []
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
notes:
  - Check mode and diff are supported.
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Adopt legacy1, its system disk managed by vmm from now on
  vmm.cloud.vm_adopt:
    name: legacy1
    owner: alice
    cluster: fra1
    managed_disks: [vda]

- name: Give it back
  vmm.cloud.vm_adopt:
    name: legacy1
    state: absent
"""

RETURN = r"""
vm:
  description: Facts of the VM after the run (as M(vmm.cloud.vm) returns them, C(adopted) set).
  returned: always
  type: dict
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_ADOPT_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_adopt import AdoptService


def main():
    module = AnsibleModule(argument_spec=VM_ADOPT_SPEC, supports_check_mode=True)
    run_module(module, lambda context: AdoptService(context).ensure())


if __name__ == "__main__":
    main()
