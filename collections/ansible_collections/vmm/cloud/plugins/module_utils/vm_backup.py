# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vmm.cloud.vm_backup`: back a VM up to the backup store (backup_store.py), restore it, delete backups.

A running VM is backed up without stopping it, through libvirt's backup API in pull mode: its filesystems are
frozen through its guest agent (when one answers) while the backup begins, then each writable disk, as it was
at that moment, is read over NBD by `qemu-img convert -c`: whole, compressed qcow2, one pass. A stopped VM's
disks are read from their files. Each file's SHA-256 is recorded; a restore checks them before it changes
anything. `qemu-img`'s progress goes to the store's progress file, which vmm.cloud.vm_backup_info reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket as socketlib
import subprocess
import time
import uuid as uuidlib

from ansible_collections.vmm.cloud.plugins.module_utils.backup_store import BackupStore, new_backup_name
from ansible_collections.vmm.cloud.plugins.module_utils.backup_xml import build_pull_backup_xml, nbd_uri
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    build_domain_xml,
    next_free_target,
    parse_domain_xml,
)
from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import file_sha256, utc_now
from ansible_collections.vmm.cloud.plugins.module_utils.seed import seed_digest, seed_files, write_seed_iso
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name, check_positive_int
from ansible_collections.vmm.cloud.plugins.module_utils.vm_service import CONSOLE_LOG_DIR, describe_vm
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    default_cloud_init,
    random_mac,
    seed_network_config,
)

SOCKET_DIR = "/run/vmm/backup"
PROGRESS_RE = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")
RUNNING_STATES = ("running", "paused")


def _request(params):
    state = params.get("state") or "present"
    request = {
        "vm": check_name(params["vm"], field="vm"),
        "state": state,
        "backup": check_name(params["backup"], field="backup") if params.get("backup") else None,
        "store": BackupStore(params.get("store") or "/var/lib/vmm/backups"),
        "keep": check_positive_int(params["keep"], "keep") if params.get("keep") is not None else None,
        "restore_as": check_name(params["restore_as"], field="restore_as") if params.get("restore_as") else None,
        "owner": check_name(params["owner"], field="owner") if params.get("owner") else None,
        "pool": check_name(params.get("pool") or "vmm", field="pool"),
        "quiesce": params.get("quiesce", True) is not False,
    }
    if state == "absent" and not request["backup"]:
        raise ValidationError("backup: required to delete a backup", field="backup")
    if request["restore_as"] and state != "restored":
        raise ValidationError("restore_as: only with state=restored", field="restore_as")
    return request


def writable_disks(facts):
    """The disks a backup holds: every writable file disk (not the read-only seed or an ISO)."""
    disks = [d for d in facts["disks"] if d["device"] == "disk" and not d["readonly"]]
    for disk in disks:
        if not disk["path"] or not os.path.isabs(disk["path"]):
            raise ConflictError(f"vm: disk {disk['target']} of VM {facts['name']} is not a file; vmm backs up file "
                                "disks", field="vm")
    return disks


def _qemu_ids(dom):
    """(uid, gid) the VM's QEMU runs as, read from its process."""
    with open(f"/run/libvirt/qemu/{dom.name()}.pid") as handle:
        pid = handle.read().strip()
    ids = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(("Uid:", "Gid:")):
                ids[line[:3]] = int(line.split()[1])
    return ids["Uid"], ids["Gid"]


class BackupService:
    def __init__(self, context):
        self.client = context.client
        self.qemu_img = context.qemu_img
        self.log = context.log
        self.run = context.run
        self.request = _request(context.module.params)
        self.store = self.request["store"]
        self.outcome = {}
        self.deleted = []  # backups this run deletes (or would, in check mode)

    def ensure(self):
        request = self.request
        if request["state"] == "restored":
            return self.restore()
        dom = self.client.find_domain(request["vm"])
        before = [b["name"] for b in self.store.list(request["vm"])]
        if request["state"] == "absent":
            if request["backup"] in before:
                self._delete(request["backup"], f"deleted backup {request['backup']}")
            return self._result(dom, before, request["backup"])
        if dom is None:
            raise NotFoundError(f"vm: no VM called {request['vm']} on {self.client.uri}", field="vm")
        name = request["backup"] or new_backup_name()
        if name not in before:
            self.log.apply(f"backed up {request['vm']} as {name} to {self.store.path(request['vm'], name)}",
                           self._take, dom, name)
        if request["keep"] is not None:
            planned = before + ([name] if name not in before else [])
            for old in planned[:max(len(planned) - request["keep"], 0)]:
                self._delete(old, f"deleted backup {old} (keep {request['keep']})")
        return self._result(dom, before, name)

    def _delete(self, name, action):
        self.deleted.append(name)
        self.log.apply(action, self.store.delete, self.request["vm"], name)

    def _result(self, dom, before, name):
        vm = self.request["vm"]
        backups = self.store.list(vm)
        if self.log.check_mode:  # what the run would leave: names only where nothing was written
            names = [b["name"] for b in backups]
            planned = [n for n in before if n not in self.deleted]
            took = any(action.startswith("backed up") for action in self.log.actions)
            if took and name not in names and name not in self.deleted:
                planned.append(name)
            backups = [b for b in backups if b["name"] in planned] + [{"name": n} for n in planned if n not in names]
        return {"backup": next((b for b in backups if b["name"] == name), None), "backups": backups,
                "vm": describe_vm(self.client, self.qemu_img, dom) if dom is not None else None,
                "before": {"backups": before}, "after": {"backups": [b["name"] for b in backups]}, **self.outcome}

    # --- back up -------------------------------------------------------------

    def _take(self, dom, name):
        vm = self.request["vm"]
        facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        disks = writable_disks(facts)
        partial = self.store.start(vm, name)
        try:
            with open(os.path.join(partial, "domain.xml"), "w") as handle:
                handle.write(self.client.domain_xml(dom, inactive=True))
            state = self.client.domain_state(dom)
            if state in RUNNING_STATES:
                consistency = self._copy_running(dom, facts, disks, partial, name)
            else:
                consistency = "stopped"
                for index, disk in enumerate(disks):
                    self._convert(disk["path"], disk["format"] or "qcow2", partial, disk, name, index, len(disks))
            meta = {"name": name, "vm": vm, "uuid": facts["uuid"], "node": socketlib.gethostname(),
                    "created": utc_now(), "vm_state": state, "consistency": consistency,
                    "owner": facts["metadata"].get("owner"), "image": facts["metadata"].get("image"),
                    "disks": [self._disk_record(partial, disk) for disk in disks]}
            self.store.finish(vm, name, meta)
        except BaseException:
            self.store.end(vm, name)
            raise
        self.outcome["consistency"] = consistency

    def _copy_running(self, dom, facts, disks, partial, name):
        os.makedirs(SOCKET_DIR, mode=0o700, exist_ok=True)
        uid, gid = _qemu_ids(dom)
        os.chown(SOCKET_DIR, uid, gid)  # QEMU binds the socket
        sock = os.path.join(SOCKET_DIR, f"{facts['uuid']}.sock")
        scratch = {d["target"]: f"{d['path']}.backup-scratch" for d in disks}
        xml = build_pull_backup_xml(sock, facts["disks"], scratch)
        freeze = self.client.quiesced(dom) if self.request["quiesce"] else contextlib.nullcontext(0)
        with freeze as frozen:
            self.client.backup_begin(dom, xml)
        try:
            for index, disk in enumerate(disks):
                self._convert(nbd_uri(sock, disk["target"]), "raw", partial, disk, name, index, len(disks))
        finally:
            self.client.abort_job(dom)
            if os.path.lexists(sock):
                os.remove(sock)
        return "frozen" if frozen else "crash"

    def _convert(self, source, source_format, partial, disk, name, index, count):
        """qemu-img convert -c of one disk into the partial folder, its progress into the store."""
        target = os.path.join(partial, f"{disk['target']}.qcow2")
        argv = ["qemu-img", "convert", "-p", "-c", "-f", source_format, "-O", "qcow2", source, target]
        progress = {"backup": name, "disk": disk["target"], "disks_done": index, "disks": count, "percent": 0.0}
        self.store.write_progress(self.request["vm"], name, progress)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603 - a fixed argv
        last = 0.0
        for chunk in iter(lambda: proc.stdout.read(256), b""):
            found = PROGRESS_RE.findall(chunk)
            if found and time.monotonic() - last >= 1:
                last = time.monotonic()
                self.store.write_progress(self.request["vm"], name, dict(progress, percent=float(found[-1])))
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise VmmError(f"backup: qemu-img convert of disk {disk['target']} failed: {err or proc.returncode}",
                           field="backup")

    def _disk_record(self, partial, disk):
        path = os.path.join(partial, f"{disk['target']}.qcow2")
        info = self.qemu_img.info(path)
        return {"target": disk["target"], "file": os.path.basename(path), "source": disk["path"],
                "virtual_size": info["virtual-size"], "size": os.path.getsize(path), "sha256": file_sha256(path)}

    # --- restore -------------------------------------------------------------

    def restore(self):
        request = self.request
        backups = self.store.list(request["vm"])
        if not backups:
            raise NotFoundError(f"backup: VM {request['vm']} has no backups in {self.store.root}", field="backup")
        meta = self.store.require(request["vm"], request["backup"] or backups[-1]["name"])
        self.outcome["restored"] = meta["name"]
        if request["restore_as"]:
            return self._restore_as(meta)
        dom = self.client.find_domain(request["vm"])
        if dom is None:
            raise NotFoundError(f"vm: no VM called {request['vm']} to restore into on {self.client.uri}; give "
                                "restore_as to restore the backup as a new VM", field="vm")
        self._verify(meta)
        facts = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
        current = {d["target"]: d for d in writable_disks(facts)}
        missing = [d["target"] for d in meta["disks"] if d["target"] not in current]
        if missing:
            raise ConflictError(f"backup: VM {request['vm']} has no disk {', '.join(missing)} to restore into",
                                field="backup")
        staged = []
        for disk in meta["disks"]:
            path = current[disk["target"]]["path"]
            self.log.apply(f"copied {disk['file']} of backup {meta['name']} to {path}.restore", self.qemu_img.convert,
                           os.path.join(self.store.path(request["vm"], meta["name"]), disk["file"]), "qcow2",
                           f"{path}.restore")
            staged.append(path)
        running = self.client.is_active(dom)
        if running:
            self.log.apply("powered off", self.client.destroy, dom)
        for snapshot in self.client.snapshot_names(dom):
            self.log.apply(f"dropped snapshot {snapshot} (it was in the replaced disk)", self.client.forget_snapshot,
                           dom, snapshot)
        for path in staged:
            self.log.apply(f"replaced {path}", os.replace, f"{path}.restore", path)
        if running:
            self.log.apply("started", self.client.start, dom)
        return self._result(dom, [b["name"] for b in backups], meta["name"])

    def _verify(self, meta):
        folder = self.store.path(meta["vm"], meta["name"])
        for disk in meta["disks"]:
            if file_sha256(os.path.join(folder, disk["file"])) != disk["sha256"]:
                raise ConflictError(f"backup: {disk['file']} of backup {meta['name']} does not match its SHA-256; "
                                    "nothing was restored", field="backup")

    def _restore_as(self, meta):
        request, name = self.request, self.request["restore_as"]
        if self.client.find_domain(name) is not None:
            raise ConflictError(f"restore_as: a VM called {name} exists already", field="restore_as")
        folder = self.store.path(meta["vm"], meta["name"])
        with open(os.path.join(folder, "domain.xml")) as handle:
            source = parse_domain_xml(handle.read())
        directory = self.client.pool_path(request["pool"])
        paths = {d["target"]: os.path.join(directory, f"{name}.qcow2" if i == 0 else f"{name}-{d['target']}.qcow2")
                 for i, d in enumerate(meta["disks"])}
        seed_path = os.path.join(directory, f"{name}-seed.iso")
        for path in [*paths.values(), seed_path]:
            if os.path.lexists(path):
                raise ConflictError(f"restore_as: {path} exists already", field="restore_as")
        if any(nic["type"] == "routed" for nic in source["interfaces"]):
            raise ConflictError("restore_as: the backup's VM has a routed NIC, whose address is its own; restore it "
                                "into that VM, or create a VM and restore its disks there", field="restore_as")
        self._verify(meta)
        vm_uuid = str(uuidlib.uuid4())
        nics = [dict(nic, mac=random_mac(), addresses=[], filter=None, gateway=None) for nic in source["interfaces"]]
        cloud_init = dict(default_cloud_init(name), network_config=seed_network_config(nics))
        files = seed_files(vm_uuid, cloud_init)
        disks = [dict(d, path=paths[d["target"]], format="qcow2") for d in source["disks"] if d["target"] in paths]
        disks.append({"path": seed_path, "format": "raw", "target": next_free_target(disks), "bus": "virtio",
                      "device": "disk", "readonly": True, "boot_order": None})
        graphics = dict(source["graphics"], port=None) if source.get("graphics") else None
        meta_vm = {"owner": request["owner"] or source["metadata"].get("owner"),
                   "image": source["metadata"].get("image"), "created": utc_now(),
                   "cluster": source["metadata"].get("cluster"), "ips": [], "addresses": [],
                   "seed_sha256": seed_digest(files), "ha": False, "managed_disks": [*paths.values(), seed_path]}
        spec = {key: source[key] for key in ("domain_type", "machine", "arch", "vcpus", "max_vcpus", "memory_mib",
                                             "max_memory_mib")}
        spec.update(name=name, uuid=vm_uuid, disks=disks, interfaces=nics, graphics=graphics, metadata=meta_vm,
                    serial_log=os.path.join(CONSOLE_LOG_DIR, f"{name}.log"))
        made = []
        try:
            for disk in meta["disks"]:
                made.append(paths[disk["target"]])
                self.log.apply(f"copied {disk['file']} of backup {meta['name']} to {paths[disk['target']]}",
                               self.qemu_img.convert, os.path.join(folder, disk["file"]), "qcow2",
                               paths[disk["target"]])
            made.append(seed_path)
            self.log.apply(f"wrote seed {seed_path}", write_seed_iso, self.run, seed_path, files)
            dom = self.log.apply(f"defined {name}", self.client.define, build_domain_xml(spec))
            if not self.log.check_mode:
                self.log.apply(f"started {name}", self.client.start, dom)
        except Exception:
            if not self.log.check_mode:
                created = self.client.find_domain(name)
                if created is not None:
                    self.client.destroy(created)
                    self.client.undefine(created)
                for path in made:
                    if os.path.lexists(path):
                        os.remove(path)
            raise
        self.client.refresh_pool(request["pool"])
        self.outcome["restored_as"] = name
        dom = self.client.find_domain(name)
        before = [b["name"] for b in self.store.list(request["vm"])]
        result = self._result(self.client.find_domain(request["vm"]), before, meta["name"])
        result["vm"] = describe_vm(self.client, self.qemu_img, dom) if dom is not None else None
        return result


def backup_info(context):
    """The VM's whole backups and the progress of those being written (vmm.cloud.vm_backup_info)."""
    params = context.module.params
    store = BackupStore(params["store"])
    vm = check_name(params["vm"], field="vm")
    running = store.progress(vm)
    result = {"backups": store.list(vm), "running": running, "in_progress": bool(running)}
    if params.get("job"):
        result["job_finished"] = async_job_finished(os.path.expanduser(params["async_dir"]), params["job"])
    return result


def async_job_finished(async_dir, jid):
    """Whether the async task `jid` (a backup run with `async`) has ended, as async_status reads its file: the file
    holds `started` until the module's result replaces it. A job file that is not there counts as ended."""
    if not re.fullmatch(r"j?[0-9]+\.[0-9]+", str(jid)):
        raise ValidationError(f"job: not an async job id: {jid!r}", field="job")
    try:
        with open(os.path.join(async_dir, jid)) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return True
    except ValueError:  # being written
        return False
    return "started" not in data or bool(data.get("finished"))
