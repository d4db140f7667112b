#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_backup
short_description: Back up a VM to a backup store, restore it, delete backups
description:
  - A backup holds each writable disk of the VM whole (its backing image merged in) as compressed qcow2, the VM's
    definition and the SHA-256 of each file, in O(store)/<vm>/<backup>/ (a directory on the node, or a shared mount).
  - A running VM is backed up without stopping it, through libvirt's backup API (pull mode over NBD). Its filesystems
    are frozen through its guest agent while the backup begins, when an agent answers (RV(consistency)). A stopped
    VM's disks are read from their files.
  - Progress of a backup being written is kept in the store and reported by M(vmm.cloud.vm_backup_info).
  - V(restored) checks the backup's checksums first. Into the VM itself, it powers the VM off, replaces its disks
    (its snapshots go with them) and starts it again if it ran. With O(restore_as), it makes a new VM from the backup
    with a new UUID, new MACs, DHCP and a new seed, and starts it.
version_added: 0.6.0
author: vmm contributors (@vmm-dev)
options:
  vm:
    description: Name of the VM (for V(restored) with O(restore_as), the VM the backup was taken of).
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  state:
    description:
      - V(present) takes backup O(backup) unless the store has it; without O(backup), a new one named by the time
        (such as C(20261128T160000Z)) at every run.
      - V(restored) restores O(backup) (the newest when unset), at every run; V(absent) deletes O(backup).
    type: str
    choices: [present, restored, absent]
    default: present
  backup:
    description: Name of the backup.
    type: str
  store:
    description: The backup store, a directory (made when missing).
    type: path
    default: /var/lib/vmm/backups
  keep:
    description: With V(present), delete the VM's oldest backups until this many are left (retention by count).
    type: int
  restore_as:
    description: With V(restored), the name of a new VM to restore the backup as.
    type: str
  owner:
    description: Owner of the VM O(restore_as) makes (the backed-up VM's owner when unset).
    type: str
  pool:
    description: libvirt directory pool for the disks and seed of the VM O(restore_as) makes.
    type: str
    default: vmm
  quiesce:
    description: Freeze the guest's filesystems through its agent while a running VM's backup begins.
    type: bool
    default: true
notes:
  - Check mode and diff are supported; the diff lists the VM's backups before and after.
seealso:
  - module: vmm.cloud.vm_backup_info
  - module: vmm.cloud.vm_snapshot
"""

EXAMPLES = r"""
- name: Nightly backup of web1, the last 7 kept
  vmm.cloud.vm_backup:
    vm: web1
    store: /mnt/backups
    keep: 7

- name: Back to the newest one
  vmm.cloud.vm_backup:
    vm: web1
    store: /mnt/backups
    state: restored

- name: A copy of web1 as it was in a given backup, as a new VM
  vmm.cloud.vm_backup:
    vm: web1
    backup: 20261128T020000Z
    store: /mnt/backups
    state: restored
    restore_as: web1-copy
"""

RETURN = r"""
backup:
  description: The backup named (or made, or restored) by the run; null once it is absent.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
    created:
      description: When it was taken (UTC).
      type: str
    consistency:
      description: V(frozen) (filesystems frozen by the guest agent), V(crash) (a running VM without an agent) or
        V(stopped).
      type: str
    disks:
      description: Each disk's target, file, source path, virtual_size, size (compressed) and sha256.
      type: list
      elements: dict
backups:
  description: The VM's backups after the run, oldest first.
  returned: always
  type: list
  elements: dict
vm:
  description: Facts of the VM (for O(restore_as), of the new VM); null when there is none.
  returned: always
  type: dict
consistency:
  description: How consistent a backup the run took is (as RV(backup.consistency)).
  returned: when a backup was taken
  type: str
restored:
  description: Name of the backup restored.
  returned: when O(state=restored)
  type: str
restored_as:
  description: Name of the new VM.
  returned: when O(restore_as) was given
  type: str
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_BACKUP_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_backup import BackupService


def main():
    module = AnsibleModule(argument_spec=VM_BACKUP_SPEC, supports_check_mode=True)
    run_module(module, lambda context: BackupService(context).ensure())


if __name__ == "__main__":
    main()
