# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vmm.cloud.vm_adopt`: take a libvirt domain that vmm did not make under its management, without restarting it.

Adopting writes vmm's metadata element (owner, cluster, `adopted`, the disks vmm now manages; image unknown) into
the domain's definition and, when it runs, into the running guest's, with libvirt's setMetadata: nothing else of
the domain changes. From then on every vmm operation works on it, and a change vmm.cloud.vm makes to it is merged
into its own definition (domain_merge.py). Its disks are vmm's only where `managed_disks` says so: those are
deleted with the VM and replaced by a reinstall; the others are never touched. `state: absent` gives the domain back
(vmm's metadata removed).
"""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    METADATA_NS,
    metadata_element_xml,
    parse_domain_xml,
)
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, NotFoundError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name
from ansible_collections.vmm.cloud.plugins.module_utils.vm_service import describe_vm


def _request(params):
    name = params["name"]
    if not isinstance(name, str) or not name:
        raise ValidationError("name: the domain to adopt", field="name")
    try:
        check_name(name)
    except ValidationError:
        raise ValidationError(f"name: {name!r} is not a name vmm can manage (1-64 letters, digits, '.', '_' or '-'); "
                              "rename the domain first (virsh domrename, while it is stopped)", field="name") from None
    return {"name": name, "state": params.get("state") or "present",
            "owner": check_name(params["owner"], field="owner") if params.get("owner") else None,
            "cluster": check_name(params["cluster"], field="cluster") if params.get("cluster") else None,
            "managed_disks": list(params.get("managed_disks") or [])}


def adoption_view(meta):
    return {"adopted": bool(meta.get("adopted")), "owner": meta.get("owner"), "cluster": meta.get("cluster"),
            "managed_disks": sorted(meta.get("managed_disks") or [])}


class AdoptService:
    def __init__(self, context):
        self.client = context.client
        self.qemu_img = context.qemu_img
        self.images = context.images
        self.log = context.log
        self.request = _request(context.module.params)

    def ensure(self):
        request = self.request
        dom = self.client.find_domain(request["name"])
        if dom is None:
            raise NotFoundError(f"name: no domain called {request['name']} on {self.client.uri}", field="name")
        facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        meta = facts["metadata"]
        if meta.get("created") and not meta.get("adopted"):
            raise ConflictError(f"name: VM {request['name']} was made by vmm, there is nothing to adopt (its owner "
                                "and cluster are vmm.cloud.vm's options)", field="name")
        before = adoption_view(meta)
        live = self.client.is_active(dom)
        if request["state"] == "absent":
            if before["adopted"]:
                self.log.apply("gave the domain back (vmm's metadata removed)", self.client.set_metadata, dom,
                               None, METADATA_NS, live)
            after = adoption_view({})
        else:
            wanted = dict(meta, owner=request["owner"], cluster=request["cluster"], image=None,
                          managed_disks=self._managed_paths(facts), adopted=meta.get("adopted") or utc_now())
            after = adoption_view(wanted)
            if after != before:
                self.log.apply("adopted" if not before["adopted"] else "updated the adoption",
                               self.client.set_metadata, dom, metadata_element_xml(wanted), METADATA_NS, live)
        vm = describe_vm(self.client, self.qemu_img, dom)
        if self.log.check_mode:
            vm.update(owner=after["owner"], cluster=after["cluster"], adopted=after["adopted"] or None)
        return {"vm": vm, "before": before, "after": after}

    def _managed_paths(self, facts):
        """The paths of the disks named in `managed_disks` (by target), which must be the domain's writable disks
        and never a base image of the store."""
        disks = {disk["target"]: disk for disk in facts["disks"]}
        store = self._store_files()
        paths = []
        for index, target in enumerate(self.request["managed_disks"]):
            field = f"managed_disks[{index}]"
            disk = disks.get(target)
            if disk is None or disk["device"] != "disk" or disk["readonly"] or not disk["path"]:
                writable = sorted(t for t, d in disks.items() if d["device"] == "disk" and not d["readonly"])
                raise ValidationError(f"{field}: {target!r} is not a writable disk of {facts['name']} (it has: "
                                      f"{', '.join(writable) or 'none'})", field=field)
            if disk["path"] in store:
                raise ValidationError(f"{field}: {disk['path']} is an image of the store, never a VM's to manage",
                                      field=field)
            paths.append(disk["path"])
        return paths

    def _store_files(self):
        try:
            return {image["path"] for image in self.images.list()}
        except NotFoundError:  # no image pool on this node
            return set()
