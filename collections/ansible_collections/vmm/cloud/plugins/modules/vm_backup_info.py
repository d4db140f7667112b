#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_backup_info
short_description: List a VM's backups in a backup store, and the progress of those being written
description:
  - Reads the backup store that M(vmm.cloud.vm_backup) writes; changes nothing.
version_added: 0.6.0
author: vmm contributors (@vmm-dev)
options:
  vm:
    description: Name of the VM.
    type: str
    required: true
  uri:
    description: libvirt connection URI (unused; the store is read directly).
    type: str
    default: qemu:///system
  store:
    description: The backup store directory.
    type: path
    default: /var/lib/vmm/backups
  job:
    description:
      - The async job id of a M(vmm.cloud.vm_backup) task run with C(async) and C(poll=0); RV(job_finished) then says
        whether it has ended, so that a playbook can follow the backup's progress until it does.
    type: str
  async_dir:
    description: Where Ansible keeps async job files on the node (its C(async_dir)).
    type: path
    default: ~/.ansible_async
seealso:
  - module: vmm.cloud.vm_backup
"""

EXAMPLES = r"""
- name: Back up web1 in the background
  vmm.cloud.vm_backup:
    vm: web1
  async: 21600
  poll: 0
  register: started

- name: Follow it; each retry's result holds the progress
  vmm.cloud.vm_backup_info:
    vm: web1
    job: "{{ started.ansible_job_id }}"
  register: progress
  until: progress.job_finished
  retries: 7200
  delay: 3
"""

RETURN = r"""
backups:
  description: The VM's whole backups, oldest first, each as M(vmm.cloud.vm_backup) returns it.
  returned: always
  type: list
  elements: dict
running:
  description: Backups being written, by name, each with its disk, disks_done, disks and percent (of that disk).
  returned: always
  type: dict
in_progress:
  description: Whether a backup of the VM is being written.
  returned: always
  type: bool
job_finished:
  description: Whether the async job O(job) has ended.
  returned: when O(job) is given
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_BACKUP_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_backup import backup_info


def main():
    module = AnsibleModule(argument_spec=VM_BACKUP_INFO_SPEC, supports_check_mode=True)
    run_module(module, backup_info)


if __name__ == "__main__":
    main()
