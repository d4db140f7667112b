# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `vmm.cloud.vm` state machine.

The options are validated once into a request (vm_spec.normalize_request),
and `state: X` is dispatched to `state_X`. Every change to the node goes
through the run's change log (module_runner), the one place where check mode
is decided. A create that fails part-way undoes what it made, in reverse
order. HA records are ha_sync's.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid as uuidlib

from ansible_collections.vmm.cloud.plugins.module_utils.addresses import Addresses
from ansible_collections.vmm.cloud.plugins.module_utils.changes import Rollback, remove_file
from ansible_collections.vmm.cloud.plugins.module_utils.domain_merge import domain_xml_for
from ansible_collections.vmm.cloud.plugins.module_utils.domain_type import choose_domain_type
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    build_domain_xml,
    parse_domain_xml,
)
from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.ha_sync import HaSync
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import domain_types
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.nwfilter import ensure_filters, needs_vmm_filters
from ansible_collections.vmm.cloud.plugins.module_utils.seed import seed_digest, seed_files, write_seed_iso
from ansible_collections.vmm.cloud.plugins.module_utils.vm_boot_media import BootMediaSteps
from ansible_collections.vmm.cloud.plugins.module_utils.vm_data_disks import DataDiskSteps
from ansible_collections.vmm.cloud.plugins.module_utils.vm_facts import vm_facts
from ansible_collections.vmm.cloud.plugins.module_utils.vm_reinstall import ReinstallSteps
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    managed_seed_path,
    managed_view,
    new_spec,
    normalize_request,
    updated_spec,
    view_changes,
    with_create_defaults,
    with_seed_network,
)

CONSOLE_LOG_DIR = "/var/log/vmm/console"
LIVE_FIELDS = ("vcpus", "memory")


def _console_password(spec):
    return (spec.get("graphics") or {}).get("password")


class VmService(ReinstallSteps, DataDiskSteps, BootMediaSteps):
    def __init__(self, context):
        self.client = context.client
        self.qemu_img = context.qemu_img
        self.images = context.images
        self.run = context.run
        self.log = context.log
        self.node_facts = context.node_facts
        self.request = normalize_request(context.module.params)
        self.ha = HaSync(self.client, self.log, self.node_facts)
        params = context.module.params
        self.addresses = Addresses(self.client, params.get("ip_pools"), params.get("address_taken"), self.node_facts)
        self.outcome = {}

    # --- entry point -------------------------------------------------------

    def ensure(self):
        request = self.request
        if request["state"] == "absent":
            return self.state_absent(self.client.find_domain(request["name"]))
        self._route_through_node(request)
        result = getattr(self, f"state_{request['state']}")(request)
        self.ha.sync(request["name"])
        return result

    def _route_through_node(self, request):
        """Routed NICs get the node's address as gateway (recorded by the node role in routed mode)."""
        routed = [i for i, nic in enumerate(request["interfaces"] or []) if nic["type"] == "routed"]
        if not routed:
            return
        gateway = self.node_facts.get("routed_gateway")
        if not gateway:
            field = f"networks[{routed[0]}].routed"
            raise ValidationError(f"{field}: this node is not in routed mode (its bootstrap recorded no "
                                  "routed_gateway)", field=field)
        for index in routed:
            request["interfaces"][index]["gateway"] = gateway

    @contextlib.contextmanager
    def _assigning(self, request, current_interfaces=(), cluster=None):
        """The request with the pool addresses of its NICs, under the lock that lasts until the VM that holds
        them is defined (addresses.py)."""
        if not self.addresses.needed(request["interfaces"]):
            yield request
            return
        with self.addresses.locked():
            used = self.addresses.used(exclude=request["name"])
            interfaces = self.addresses.assign(request["interfaces"], current_interfaces,
                                               request["cluster"] or cluster, used)
            yield dict(request, interfaces=interfaces)

    def state_present(self, request):
        dom = self.client.find_domain(request["name"])
        if dom is None:
            return self._create(request, start=False)
        return self._facts(dom, self._update(dom, request))

    def state_running(self, request):
        dom = self.client.find_domain(request["name"])
        if dom is None:
            return self._create(request, start=True)
        result = self._update(dom, request)
        state = self.client.domain_state(dom)
        if state == "paused":
            self.log.apply("resumed", self.client.resume, dom)
        elif state != "running":
            self.log.apply("started", self.client.start, dom)
        return self._facts(dom, result)

    def state_stopped(self, request):
        dom = self.client.find_domain(request["name"])
        if dom is None:
            return self._create(request, start=False)
        result = self._update(dom, request)
        if self.client.is_active(dom):
            self._stop(dom)
        return self._facts(dom, result)

    def state_restarted(self, request):
        dom = self.client.find_domain(request["name"])
        if dom is None:
            return self._create(request, start=True)
        result = self._update(dom, request)
        if self.client.is_active(dom):
            self._stop(dom)
        self.log.apply("started", self.client.start, dom)
        return self._facts(dom, result)

    def state_absent(self, dom):
        if dom is None:
            return {"vm": None, "before": None, "after": None}
        self.ha.check_removal(dom)
        facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        before = managed_view(facts)
        if self.client.is_active(dom):
            self.log.apply("powered off", self.client.destroy, dom)
        self.log.apply("undefined", self.client.undefine, dom)
        store_files = self._store_files()
        for path in facts["metadata"]["managed_disks"]:
            if path in store_files:  # never a base image, whatever the metadata says
                continue
            if os.path.lexists(path):
                self.log.apply(f"removed {path}", remove_file, path)
        log = facts.get("serial_log") or ""
        if log.startswith(CONSOLE_LOG_DIR + "/") and os.path.lexists(log):  # vmm's own (an adopted VM's stays)
            self.log.apply(f"removed {log}", remove_file, log)
        if not self.log.check_mode:
            self.client.refresh_pool(self.request["pool"])
        return {"vm": None, "before": before, "after": None}

    def _store_files(self):
        try:
            return {image["path"] for image in self.images.list()}
        except NotFoundError:  # no image pool on this node: nothing to protect
            return set()

    # --- create ------------------------------------------------------------

    def _domain_type(self):
        available = domain_types(self.client.capabilities_xml())
        recorded = self.node_facts.get("domain_type")
        chosen, why = choose_domain_type(self.request["domain_type"], available, recorded)
        self.outcome["domain_type_source"] = why
        return chosen

    def _disk_plan(self, request):
        """(base path, base format, image name, size in bytes) after checking the sizes; no base for the blank
        disk of a VM installed from an ISO."""
        if not self.request["image"]:
            if not request["disk_size_bytes"]:
                raise ValidationError("disk_size: required for the blank disk of a VM installed from an ISO "
                                      "(no image)", field="disk_size")
            return None, None, None, request["disk_size_bytes"]
        base, base_format, image_name = self.images.resolve(self.request["image"] or "")
        base_size = self.qemu_img.info(base)["virtual-size"]
        size = request["disk_size_bytes"] or base_size
        if size < base_size:
            raise ValidationError(f"disk_size: {size // 1024 ** 3} GiB is smaller than the image "
                                  f"({base_size / 1024 ** 3:.2f} GiB)", field="disk_size")
        return base, base_format, image_name or base, size

    def _create(self, request, start):
        if not self.request["image"] and not self.request["iso"]:
            raise ValidationError("image: required to create a VM that does not exist yet (or `iso`, to install "
                                  "it from an ISO on a blank disk)", field="image")
        with self._assigning(with_create_defaults(request)) as request:
            return self._create_assigned(with_seed_network(request), start)

    def _create_assigned(self, request, start):
        name = request["name"]
        base, base_format, image_label, size = self._disk_plan(request)
        directory = self.client.pool_path(self.request["pool"])
        disk_path = os.path.join(directory, f"{name}.qcow2")
        seed_path = os.path.join(directory, f"{name}-seed.iso")
        for path in (disk_path, seed_path):
            if os.path.lexists(path):
                raise ConflictError(f"name: {path} already exists but no VM {name} is defined; "
                                    "remove the file or choose another name", field="name")
        vm_uuid = str(uuidlib.uuid4())
        files = seed_files(vm_uuid, request["cloud_init"])
        disks = [
            {"path": disk_path, "format": "qcow2", "target": "vda", "bus": "virtio", "device": "disk",
             "readonly": False, "boot_order": 1, "managed": True},
            {"path": seed_path, "format": "raw", "target": "vdb", "bus": "virtio", "device": "disk",
             "readonly": True, "boot_order": None, "managed": True},
        ]
        spec = new_spec(request, uuid=vm_uuid, domain_type=self._domain_type(), machine=self.request["machine"],
                        disks=disks, serial_log=os.path.join(CONSOLE_LOG_DIR, f"{name}.log"), image=image_label,
                        created=utc_now(), seed_sha256=seed_digest(files))
        spec = self._plan_boot_media(spec, request)
        steps = self._plan_data_disks(spec, request) if request["disks"] else []
        xml = build_domain_xml(spec)
        if needs_vmm_filters(spec["interfaces"]):
            ensure_filters(self.client, self.log)
        rollback = Rollback()
        try:
            self._make_disk(rollback, disk_path, base, base_format, size)
            self._make_data_disks(steps, rollback)
            self.log.apply(f"wrote seed {seed_path}", self._write_seed, rollback, seed_path, files)
            dom = self.log.apply("defined", self._define_new, rollback, xml)
            if request["autostart"]:
                self.log.apply("autostart enabled", self.client.set_autostart, dom, True)
            if start:
                self.log.apply("started", self.client.start, dom)
        except VmmError as exc:
            if rollback.run():
                raise
            raise type(exc)(f"{exc.msg}; the create could not be undone: VM {name} stays defined with its disk "
                            "and seed (stopped): run again to finish it, or delete it", field=exc.field) from None
        except Exception:
            rollback.run()
            raise
        if not self.log.check_mode:
            self.client.refresh_pool(self.request["pool"])
            return self._facts(dom, {"before": None, "after": managed_view(spec)})
        planned = parse_domain_xml(xml)
        return {"vm": vm_facts(planned, state="shutoff" if not start else "running"),
                "before": None, "after": managed_view(planned)}

    def _make_disk(self, rollback, disk_path, base, base_format, size):
        rollback.add(remove_file, disk_path)
        if base is None:
            self.log.apply(f"created blank disk {disk_path}", self.qemu_img.create, disk_path, size)
        elif self.request["clone"] == "full":
            self.log.apply(f"copied {base} to {disk_path}", self.qemu_img.convert, base, base_format, disk_path)
            self.log.apply(f"grew {disk_path}", self.qemu_img.resize, disk_path, size)
        else:
            self.log.apply(f"created overlay {disk_path} on {base}", self.qemu_img.create_overlay,
                           disk_path, base, base_format, size)

    def _write_seed(self, rollback, path, files):
        rollback.add(remove_file, path)
        write_seed_iso(self.run, path, files)

    def _define_new(self, rollback, xml):
        dom = self.client.define(xml)
        rollback.add(self.client.undefine, dom)
        rollback.add(self.client.destroy, dom)
        return dom

    # --- update ------------------------------------------------------------

    def _update(self, dom, request):
        current = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        self._check_owner(current, request)
        with self._assigning(request, current["interfaces"], current["metadata"].get("cluster")) as request:
            return self._update_assigned(dom, current, request)

    def _update_assigned(self, dom, current, request):
        request = with_seed_network(request, current["interfaces"])
        files = seed_files(current["uuid"], request["cloud_init"]) if request["cloud_init"] is not None else None
        requested_type = None if self.request["domain_type"] == "auto" else self._domain_type()
        spec = updated_spec(current, request, domain_type=requested_type,
                            seed_sha256=seed_digest(files) if files else None)
        spec = self._plan_boot_media(spec, request)
        steps = self._plan_data_disks(spec, request) if request["disks"] is not None else []
        before, after = managed_view(current), managed_view(spec)
        changed = view_changes(before, after)
        if _console_password(current) != _console_password(spec) and "console" not in changed:
            changed.append("console")
        self.outcome.setdefault("applied_live", [])
        self.outcome.setdefault("pending_restart", [])
        active = self.client.is_active(dom)
        if changed:
            if needs_vmm_filters(spec["interfaces"]):
                ensure_filters(self.client, self.log)
            self._make_data_disks(steps, Rollback())
            if active:
                self._detach_live(dom, steps)
            self.log.apply(f"updated {', '.join(changed)}", self.client.define,
                           domain_xml_for(spec, current, lambda: self.client.domain_xml(dom, inactive=True)))
            if "seed_sha256" in changed:
                seed_path = managed_seed_path(current)
                self.log.apply(f"rewrote seed {seed_path}", write_seed_iso, self.run, seed_path, files)
            if active:
                self._apply_live(dom, changed, spec)
                self._attach_live(dom, steps)
                self._switch_rescue(dom, changed)
        self._finish_data_disks(dom, steps, active)
        self._grow_disk(dom, current, request)
        if request["autostart"] is not None and self.client.autostart(dom) != request["autostart"]:
            self.log.apply("autostart " + ("enabled" if request["autostart"] else "disabled"),
                           self.client.set_autostart, dom, request["autostart"])
        return {"before": before, "after": after}

    def _apply_live(self, dom, changed, spec):
        """Apply what a running guest can take now; the rest waits for its next boot."""
        live = parse_domain_xml(self.client.domain_xml(dom))
        for field in changed:
            if field == "vcpus" and spec["vcpus"] <= live["max_vcpus"]:
                self.log.apply(f"set {spec['vcpus']} vcpus live", self.client.set_vcpus_live, dom, spec["vcpus"])
                self.outcome["applied_live"].append(field)
            elif field == "memory" and spec["memory_mib"] <= live["max_memory_mib"]:
                self.log.apply(f"set {spec['memory_mib']} MiB live", self.client.set_memory_live, dom,
                               spec["memory_mib"])
                self.outcome["applied_live"].append(field)
            elif field not in ("owner", "cluster", "ha", "ips", "snapshot_limit", "data_disks"):
                self.outcome["pending_restart"].append(field)

    def _grow_disk(self, dom, current, request):
        wanted = request["disk_size_bytes"]
        if not wanted:
            return
        disk = current["disks"][0]
        size = self.qemu_img.info(disk["path"])["virtual-size"]
        if wanted < size:
            raise ConflictError(f"disk_size: disks are never shrunk ({size / 1024 ** 3:.2f} GiB now, "
                                f"{wanted // 1024 ** 3} GiB asked)", field="disk_size")
        if wanted == size:
            return
        if self.client.is_active(dom):
            self.log.apply(f"grew {disk['target']} live", self.client.block_resize, dom, disk["target"], wanted)
            self.outcome["applied_live"].append("disk_size")
        else:
            self.log.apply(f"grew {disk['path']}", self.qemu_img.resize, disk["path"], wanted)

    def _check_owner(self, current, request):
        if self.request["keep_owner"] and current["metadata"].get("owner") != request["owner"]:
            raise ConflictError(f"name: a VM {request['name']} exists and is not {request['owner'] or 'unowned'}'s; "
                                "choose another name", field="name")

    # --- power -------------------------------------------------------------

    def _stop(self, dom):
        timeout = self.request["shutdown_timeout"]
        if self.log.check_mode:
            self.log.apply("stopped", self.client.destroy, dom)
            return
        if timeout > 0:
            asked = self.log.apply("asked the guest to shut down", self.client.shutdown, dom)
            if self.client.wait_for_state(dom, "shutoff", timeout):
                self.outcome.update(shutdown="graceful", shutdown_through=asked)
                return
        self.log.apply("powered off", self.client.destroy, dom)
        self.outcome["shutdown"] = "forced"

    # --- result ------------------------------------------------------------

    def _describe(self, dom):
        return describe_vm(self.client, self.qemu_img, dom)

    def _facts(self, dom, result):
        if self.request["wait_for_ip"] and self.client.domain_state(dom) == "running":
            self._wait_for_ip(dom)
        result["vm"] = self._describe(dom)
        return result

    def _wait_for_ip(self, dom):
        facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        deadline = time.monotonic() + self.request["wait_timeout"]
        macs = {nic["mac"] for nic in facts["interfaces"] if nic["type"] == "network"}
        while time.monotonic() < deadline:
            leases = self.client.interface_addresses(dom)
            if macs and all(leases.get(mac) for mac in macs):
                return
            time.sleep(0.5)


def describe_vm(client, qemu_img, dom):
    """Facts of a defined VM: its live definition, state, leases and disk size."""
    facts = parse_domain_xml(client.domain_xml(dom))
    state = client.domain_state(dom)
    if state != "shutoff":  # a running guest's live definition keeps the metadata it booted with; vmm's is saved
        saved = parse_domain_xml(client.domain_xml(dom, inactive=True))
        facts["metadata"] = saved["metadata"]
        held = {nic["mac"]: nic["addresses"] for nic in saved["interfaces"]}
        for nic in facts["interfaces"]:
            nic["addresses"] = held.get(nic["mac"], nic["addresses"])
    leases = client.interface_addresses(dom, agent=facts["guest_agent"]["connected"]) if state == "running" else {}
    size = None
    if facts["disks"] and facts["disks"][0]["path"]:
        try:
            size = qemu_img.info(facts["disks"][0]["path"])["virtual-size"]
        except VmmError:  # a missing disk file is a fact to show, not a failure
            size = None
    return vm_facts(facts, state=state, leases=leases, autostart=client.autostart(dom), disk_size=size)
