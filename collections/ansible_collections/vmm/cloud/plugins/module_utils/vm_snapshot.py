# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vmm.cloud.vm_snapshot`: take, revert to and delete a VM's snapshots (snapshot_xml.py says which kind).

A VM may keep at most its limit of snapshots: the one in its metadata (vmm.cloud.vm's `snapshot_limit`, an
administrator's setting), else the module's `limit`. What the storage or libvirt cannot do is refused before
anything is asked of libvirt, with the reason: a writable disk that is not qcow2; a running VM's snapshot
without its memory (libvirt 9 takes those only as external overlays, which it cannot revert); a stopped VM's
with memory.
"""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, NotFoundError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.snapshot_xml import (
    build_snapshot_xml,
    by_creation,
    parse_snapshot_xml,
    snapshot_blockers,
)
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name, check_positive_int
from ansible_collections.vmm.cloud.plugins.module_utils.vm_service import describe_vm

RUNNING_STATES = ("running", "paused")


def _request(params):
    state = params.get("state") or "present"
    request = {
        "vm": check_name(params["vm"], field="vm"),
        "name": check_name(params["name"], field="name"),
        "state": state,
        "memory": params.get("memory"),
        "description": params.get("description"),
        "limit": check_positive_int(params["limit"], "limit", minimum=0) if params.get("limit") is not None
        else None,
    }
    if request["description"] is not None and ("\x00" in request["description"] or len(request["description"]) > 1024):
        raise ValidationError("description: at most 1024 characters, without NUL", field="description")
    return request


class SnapshotService:
    def __init__(self, context):
        self.client = context.client
        self.qemu_img = context.qemu_img
        self.log = context.log
        self.request = _request(context.module.params)
        self.dom = None

    def ensure(self):
        request = self.request
        self.dom = self.client.find_domain(request["vm"])
        if self.dom is None:
            raise NotFoundError(f"vm: no VM called {request['vm']} on {self.client.uri}", field="vm")
        before = self.snapshots()
        names = [snap["name"] for snap in before]
        if request["state"] == "present" and request["name"] not in names:
            self._take(before)
        elif request["state"] == "absent" and request["name"] in names:
            self.log.apply(f"deleted snapshot {request['name']}", self.client.delete_snapshot, self.dom,
                           request["name"])
        elif request["state"] == "restored":
            if request["name"] not in names:
                raise NotFoundError(f"name: VM {request['vm']} has no snapshot called {request['name']} "
                                    f"(it has: {', '.join(names) or 'none'})", field="name")
            self.log.apply(f"reverted to snapshot {request['name']}", self.client.revert_snapshot, self.dom,
                           request["name"])
        after = self._planned(before) if self.log.check_mode else self.snapshots()
        return {"snapshot": next((snap for snap in after if snap["name"] == request["name"]), None),
                "snapshots": after, "vm": describe_vm(self.client, self.qemu_img, self.dom),
                "before": {"snapshots": names}, "after": {"snapshots": [snap["name"] for snap in after]}}

    def snapshots(self):
        return by_creation(parse_snapshot_xml(xml) for xml in self.client.snapshots_xml(self.dom))

    def _take(self, existing):
        request = self.request
        facts = parse_domain_xml(self.client.domain_xml(self.dom, inactive=True))
        limit = facts["metadata"].get("snapshot_limit")
        limit = request["limit"] if limit is None else limit
        if limit is not None and len(existing) >= limit:
            raise ConflictError(f"name: VM {request['vm']} has {len(existing)} snapshots and may keep {limit}; "
                                "delete one first", field="name")
        blockers = snapshot_blockers(facts["disks"])
        if blockers:
            raise ValidationError(f"vm: cannot snapshot {request['vm']}: {'; '.join(blockers)}", field="vm")
        running = self.client.domain_state(self.dom) in RUNNING_STATES
        memory = running if request["memory"] is None else request["memory"]
        if running and not memory:
            raise ValidationError(f"memory: VM {request['vm']} is running, and this node takes a running VM's "
                                  "snapshots with its memory only (libvirt makes disk-only snapshots of a running "
                                  "VM as external overlays, which it cannot revert); leave memory unset or true, "
                                  "or stop the VM first", field="memory")
        if memory and not running:
            raise ValidationError(f"memory: VM {request['vm']} is not running: there is no memory to save",
                                  field="memory")
        xml = build_snapshot_xml(request["name"], facts["disks"], memory, request["description"])
        self.log.apply(f"took snapshot {request['name']}" + (" with the memory" if memory else " of the disks"),
                       self.client.create_snapshot, self.dom, xml)

    def _planned(self, before):
        request = self.request
        if request["state"] == "absent":
            return [snap for snap in before if snap["name"] != request["name"]]
        if request["state"] == "present" and all(snap["name"] != request["name"] for snap in before):
            return [*before, {"name": request["name"], "description": request["description"], "created": None,
                              "state": self.client.domain_state(self.dom), "memory": None, "parent": None}]
        return before
