#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_snapshot
short_description: Take, revert to and delete snapshots of a VM
description:
  - Snapshots kept inside the VM's qcow2 disks (libvirt internal snapshots), which libvirt can revert.
  - Of a running VM, with its memory; reverting brings the guest back running as it was. Of a stopped VM, its
    disks; reverting leaves it stopped with its disks as they were.
  - Refused with the reason, before anything changes, what this node cannot do. A writable disk that is not qcow2.
    A running VM's snapshot without its memory (libvirt 9 takes disk-only snapshots of a running VM only as external
    overlays, which it cannot revert). A stopped VM's with memory.
  - A VM keeps at most its limit of snapshots. That is the one recorded in its metadata
    (O(vmm.cloud.vm#module:snapshot_limit)), else O(limit).
  - A reinstall (O(vmm.cloud.vm#module:state=reinstalled)) drops the VM's snapshots with its old disk.
version_added: 0.6.0
author: vmm contributors (@vmm-dev)
options:
  vm:
    description: Name of the VM.
    type: str
    required: true
  name:
    description: Name of the snapshot (1-64 letters, digits, C(.), C(_) or C(-)).
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  state:
    description:
      - V(present) takes the snapshot unless the VM has one of that name; V(absent) deletes it.
      - V(restored) reverts the VM to it, at every run (as a restart does).
    type: str
    choices: [present, absent, restored]
    default: present
  memory:
    description:
      - Save the running guest's memory too. Unset, a running VM's snapshot has its memory and a stopped VM's has not;
        V(false) for a running VM and V(true) for a stopped one are refused.
    type: bool
  description:
    description: Free text kept with a new snapshot.
    type: str
  limit:
    description: How many snapshots a VM without a limit of its own may keep; unset, no limit.
    type: int
notes:
  - Check mode and diff are supported; the diff lists the snapshots' names before and after.
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Snapshot web1 before an upgrade (with its memory, as it runs)
  vmm.cloud.vm_snapshot:
    vm: web1
    name: before-upgrade
    description: before apt full-upgrade
    limit: 5

- name: Back to it
  vmm.cloud.vm_snapshot:
    vm: web1
    name: before-upgrade
    state: restored

- name: Delete it
  vmm.cloud.vm_snapshot:
    vm: web1
    name: before-upgrade
    state: absent
"""

RETURN = r"""
snapshot:
  description: The snapshot named, after the run; null once it is absent.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
    description:
      description: Its description.
      type: str
    created:
      description: When it was taken (UTC, ISO 8601); null in check mode.
      type: str
    state:
      description: The VM's state when it was taken (V(running), V(paused) or V(shutoff)).
      type: str
    memory:
      description: Whether it holds the guest's memory.
      type: bool
    parent:
      description: The snapshot it was taken after, if any.
      type: str
snapshots:
  description: Every snapshot of the VM after the run, oldest first, each as RV(snapshot).
  returned: always
  type: list
  elements: dict
vm:
  description: Facts of the VM after the run (as M(vmm.cloud.vm) returns them).
  returned: always
  type: dict
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_SNAPSHOT_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_snapshot import SnapshotService


def main():
    module = AnsibleModule(argument_spec=VM_SNAPSHOT_SPEC, supports_check_mode=True)
    run_module(module, lambda context: SnapshotService(context).ensure())


if __name__ == "__main__":
    main()
