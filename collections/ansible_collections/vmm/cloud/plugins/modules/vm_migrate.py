#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_migrate
short_description: Move a VM to another node, live when it runs
description:
  - Migrates a VM from the node of O(uri) to the node of O(dest_uri). A running VM is migrated live (the guest
    keeps running, without a reboot); a stopped one moves its definition and disks.
  - Disks the destination already sees at the same path (shared storage) stay where they are. Disks it does not
    see are copied (O(storage=auto)); a running VM's writable disks are copied by the migration itself on top of the
    shared base image, read-only media (the cloud-init seed) are streamed before. Copies leave the source once the
    VM runs on the destination; a failed migration removes what it made on the destination.
  - "Run it where both libvirtds can be reached, usually the controller (C(delegate_to: localhost)) with
    C(qemu+ssh://) URIs."
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: VM name.
    type: str
    required: true
  uri:
    description: libvirt URI of the node the VM is on.
    type: str
    default: qemu:///system
  dest_uri:
    description: libvirt URI of the node the VM goes to.
    type: str
    required: true
  migrate_uri:
    description:
      - Where the source QEMU sends the guest's memory, such as V(tcp://10.0.0.12). Defaults to what the destination
        libvirtd advertises (its host name), which must then resolve from the source.
    type: str
  storage:
    description:
      - V(auto) copies the disks the destination does not see and shares the others; V(shared) refuses to copy;
        V(copy) refuses a disk that is already on the destination.
    type: str
    choices: [auto, shared, copy]
    default: auto
  unsafe:
    description:
      - Migrate even when libvirt cannot tell that a shared disk is on a cluster file system (a plain directory
        shared by bind mounts, as in the vmm lab). Never needed on NFS.
    type: bool
    default: false
  bandwidth:
    description: Limit of the migration stream in MiB/s; V(0) is no limit.
    type: int
    default: 0
notes:
  - Check mode reports the plan (which disks would be copied) without moving anything.
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Move web1 from node1 to node2, live
  vmm.cloud.vm_migrate:
    name: web1
    uri: qemu+ssh://root@node1/system
    dest_uri: qemu+ssh://root@node2/system
    migrate_uri: tcp://10.0.0.12
  delegate_to: localhost
"""

RETURN = r"""
migration:
  description: What was moved.
  returned: success
  type: dict
  contains:
    migrated:
      description: Whether the VM moved in this run (false when it already was on the destination).
      type: bool
    live:
      description: Whether the VM was running (migrated live).
      type: bool
    seconds:
      description: Duration of the copy and the migration.
      type: float
    disks:
      description: Each disk with path, pool, readonly and whether it was copied.
      type: list
      elements: dict
vm:
  description: The VM on the destination (name, uri, state).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_MIGRATE_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from ansible_collections.vmm.cloud.plugins.module_utils.migration import Migration
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name


def work(context):
    params = context.module.params
    name = check_name(params["name"])
    dest = LibvirtClient(params["dest_uri"])
    try:
        migration = Migration(context.client, dest, context.log).run(
            name, params["storage"], params["unsafe"], params["migrate_uri"], params["bandwidth"])
        dom = dest.find_domain(name)
        state = dest.domain_state(dom) if dom is not None else "not migrated (check mode)"
    finally:
        dest.close()
    return {"migration": migration, "vm": {"name": name, "uri": params["dest_uri"], "state": state}}


def main():
    module = AnsibleModule(argument_spec=VM_MIGRATE_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
