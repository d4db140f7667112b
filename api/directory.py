"""The VM directory: what the API knows of every VM and node, kept from what its jobs saw.

Every job's artifacts (what the playbook handed over with set_stats: the `vm`
a module returned and its `node`, `moves` and `restarted` VMs, `nodes` facts,
the whole `directory` an `inventory_sync` read through the vmm.cloud.libvirt
inventory source) are applied when the job ends. Requests read the directory
only: no request waits on a node, and a node that does not answer makes its
VMs `unknown` without blocking anyone.
"""

from __future__ import annotations

from .directory_store import UNKNOWN
from .store import utcnow


def vm_row(vm, node, seen_at):
    """A directory row from a VM's facts (vmm.cloud.vm's `vm` result, or the inventory source's)."""
    row = {"name": vm["name"], "uuid": vm.get("uuid"), "node": node, "owner": vm.get("owner"),
           "state": vm.get("state") or UNKNOWN, "vcpus": vm.get("vcpus"), "memory": vm.get("memory"),
           "disk_size": vm.get("disk_size"), "addresses": list(vm.get("ips") or []), "image": vm.get("image"),
           "cluster": vm.get("cluster"), "ha": bool(vm.get("ha")), "rescue": vm.get("rescue"), "iso": vm.get("iso"),
           "last_seen": seen_at}
    if row["disk_size"] is None:  # the inventory source does not measure disks: keep what a module measured
        del row["disk_size"]
    return row


def snapshot_row(snapshot):
    """What the directory keeps of one of a VM's snapshots (vmm.cloud.vm_snapshot's facts)."""
    return {key: snapshot.get(key) for key in ("name", "description", "created", "state", "memory", "parent")}


def backup_row(backup):
    """What the directory keeps of one of a VM's backups (vmm.cloud.vm_backup's facts)."""
    disks = [disk for disk in backup.get("disks") or [] if isinstance(disk, dict)]
    return {"name": backup.get("name"), "created": backup.get("created"), "node": backup.get("node"),
            "consistency": backup.get("consistency"), "vm_state": backup.get("vm_state"),
            "size": sum(disk.get("size") or 0 for disk in disks),
            "disks": [{key: disk.get(key) for key in ("target", "virtual_size", "size", "sha256")} for disk in disks]}


def node_row(name, facts, seen_at):
    """A directory row from a node's vmm.cloud.node_info facts (or the stub of an unreachable node)."""
    reachable = not facts.get("unreachable") and facts.get("libvirtd_alive", True)
    pools = {pool.get("name"): pool for pool in facts.get("pools") or []}
    vm_pool = pools.get("vmm") or {}
    row = {"name": name, "cluster": facts.get("cluster"), "reachable": bool(reachable),
           "health": facts.get("health") or {"ok": False, "problems": ["no facts"]},
           "maintenance": bool(facts.get("maintenance")), "cpus": facts.get("cpus"),
           "vcpus_used": sum(vm.get("vcpus") or 0 for vm in facts.get("vms") or []) if "vms" in facts else None,
           "memory_total": facts.get("memory_total_mib"), "memory_free": facts.get("memory_free_mib"),
           "disk_free": round(vm_pool["available"] / 1024 ** 3, 2) if vm_pool.get("available") is not None
           else None, "vm_count": facts.get("vm_count"), "updated": seen_at}
    if reachable:
        row["last_seen"] = seen_at
    return row


def _one_per_name(rows):
    """The rows by VM name; where two nodes hold one VM (an HA copy not yet released), the running one."""
    chosen = {}
    for row in rows:
        if row["name"] not in chosen or row["state"] == "running":
            chosen[row["name"]] = row
    return list(chosen.values())


class Directory:
    def __init__(self, store, notifier=None):
        self.store = store
        self.notifier = notifier

    def record_job(self, job, status, artifacts):
        """Apply what a finished job saw."""
        artifacts = artifacts or {}
        now = utcnow()
        vm = artifacts.get("vm")
        if isinstance(vm, dict) and vm.get("name") and artifacts.get("node"):
            row = vm_row(vm, artifacts["node"], now)
            if isinstance(artifacts.get("snapshots"), list):
                row["snapshots"] = [snapshot_row(snap) for snap in artifacts["snapshots"] if isinstance(snap, dict)]
            if isinstance(artifacts.get("backups"), list) and vm["name"] == job["vars"].get("name"):
                row["backups"] = [backup_row(backup) for backup in artifacts["backups"] if isinstance(backup, dict)]
            self.store.record_vm(row)
        for move in (artifacts.get("moves") or []) + (artifacts.get("restarted") or []):
            if move.get("name") and move.get("to"):
                self.store.move_vm(move["name"], move["to"], now)
        if job["operation"] == "vm_delete" and status == "successful":
            self.store.forget_vm(job["vars"]["name"])
        if isinstance(artifacts.get("nodes"), dict):
            self._record_nodes([node_row(name, facts or {}, now) for name, facts in artifacts["nodes"].items()])
        if isinstance(artifacts.get("directory"), dict) and status == "successful":
            self._reconcile(artifacts["directory"], read_since=job["started"] or now, seen_at=now)

    def _record_nodes(self, rows):
        """Record the nodes' rows; a node that answered before and does not now is reported down (webhooks)."""
        was_up = {node["name"] for node in self.store.list_nodes() if node["reachable"]}
        self.store.record_nodes(rows)
        down = [row["name"] for row in rows if not row["reachable"] and row["name"] in was_up]
        if down and self.notifier is not None:
            self.notifier.nodes_down(down)

    def _reconcile(self, report, read_since, seen_at):
        answered = [node for node, answer in report.items() if answer.get("ok")]
        silent = [node for node, answer in report.items() if not answer.get("ok")]
        seen = _one_per_name(vm_row(vm, node, seen_at) for node in answered for vm in report[node].get("vms") or [])
        self.store.reconcile(seen, answered, silent, read_since)
