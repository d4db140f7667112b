#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ha_vm
short_description: Restart an HA VM on this node from its record, or release a stale copy
description:
  - Works from the HA record a VM marked C(ha) keeps on its cluster's shared store (its definition and its node).
  - V(running) defines the VM on this node from the record when it is not defined here, starts it, and makes this
    node the VM's home in the record. This is what C(playbooks/cluster_heal.yml) runs on a healthy node for every HA
    VM of a dead node. When the start fails (QEMU's image locks refuse a disk another QEMU holds), what this run
    defined is undefined again.
  - V(released) undefines the copy a node that died and came back still has, once the VM lives elsewhere; its disks,
    shared with the live VM, are left alone. A copy that runs here is refused (two QEMUs on one disk).
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: VM name.
    type: str
    required: true
  uri:
    description: libvirt connection URI (this node).
    type: str
    default: qemu:///system
  state:
    description: V(running) restarts the VM here; V(released) drops a stale copy here.
    type: str
    choices: [running, released]
    default: running
notes:
  - Needs the node facts the node role records (its name and shared store) in C(/var/lib/vmm/node.json).
seealso:
  - module: vmm.cloud.ha_info
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Bring web1 back on this node
  vmm.cloud.ha_vm:
    name: web1
    state: running
"""

RETURN = r"""
vm:
  description: Name, state and node of the VM here (state V(absent) after a release).
  returned: success
  type: dict
record:
  description: The HA record afterwards, without the definition.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import HA_VM_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, NotFoundError, VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.ha import ha_dir, read_record, record_path, write_record
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name


def _record(facts, name):
    directory = ha_dir(facts)
    if not directory:
        raise ConflictError("this node has no shared store recorded (shared_dir in /var/lib/vmm/node.json): "
                            "HA needs one")
    path = record_path(directory, name)
    record = read_record(path)
    if record is None:
        raise NotFoundError(f"name: no HA record for {name} in {directory} (is it marked ha?)", field="name")
    return path, record, facts.get("name")


def _restart(client, log, name, path, record, node):
    dom = client.find_domain(name)
    defined_here = False
    if dom is None:
        dom = log.apply(f"defined {name} from its HA record", client.define, record["xml"])
        defined_here = dom is not None
    if dom is not None and client.domain_state(dom) != "running":
        try:
            log.apply(f"started {name}", client.start, dom)
        except VmmError:
            if defined_here:  # leave nothing half-made behind
                client.undefine(dom)
            raise
    if record.get("node") != node:
        moved = dict(record, node=node, previous_node=record.get("node"), updated=utc_now())
        log.apply(f"made {node} the home of {name}", write_record, path, moved)
        record = moved
    return dom


def _release(client, log, name, record, node):
    dom = client.find_domain(name)
    if dom is None:
        return None
    if record.get("node") == node:
        raise ConflictError(f"name: {node} is the home of {name} in its HA record; this copy is not stale",
                            field="name")
    if client.is_active(dom):
        raise ConflictError(f"name: {name} runs here and on {record.get('node')} by its HA record: stop one of "
                            "them by hand first (two QEMUs must never share a disk)", field="name")
    log.apply(f"released the stale copy of {name} (its disks are the live VM's)", client.undefine, dom)
    return None


def work(context):
    params = context.module.params
    name = check_name(params["name"])
    path, record, node = _record(context.node_facts, name)
    log = context.log
    client = context.client
    if params["state"] == "running":
        dom = _restart(client, log, name, path, record, node)
        state = client.domain_state(dom) if dom is not None else "running (check mode)"
    else:
        _release(client, log, name, record, node)
        state = "absent"
    summary = {k: v for k, v in (read_record(path) or record).items() if k != "xml"}
    return {"vm": {"name": name, "state": state, "node": node}, "record": summary}


def main():
    module = AnsibleModule(argument_spec=HA_VM_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
