# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HA records: what it takes to restart a VM elsewhere when its node dies.

A VM marked `ha` has a record on its cluster's shared store
(`<shared_dir>/ha/<name>.json`): its definition and the node it lives on. A
dead node cannot be asked what it ran, so the record is what `cluster_heal`
reads (as oVirt keeps its OVF store on the storage domain). Whoever changes
where the VM lives rewrites `node`: the vm module on create and update, the
migration playbook, the HA restart itself.

QEMU locks its image files, so a restart fails while another QEMU still holds
the disk; across nodes that relies on the shared store's locking (NFS), which
the lab cannot show.
"""

from __future__ import annotations

import json
import os

from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name

HA_SUBDIR = "ha"
RECORD_KEYS = ("name", "uuid", "node", "cluster", "memory_mib", "vcpus", "xml")


def ha_dir(node_facts):
    """The HA record directory of this node's cluster, or None without a shared store."""
    shared = (node_facts or {}).get("shared_dir")
    return os.path.join(shared, HA_SUBDIR) if shared else None


def record_path(directory, name):
    return os.path.join(directory, f"{check_name(name)}.json")


def read_record(path):
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(path, record):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def remove_record(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def list_records(directory):
    """Every record of the directory, without the definitions."""
    records = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return records
    for entry in names:
        if not entry.endswith(".json"):
            continue
        record = read_record(os.path.join(directory, entry))
        if record and record.get("name"):
            records.append({k: v for k, v in record.items() if k != "xml"})
    return records


def differs(current, wanted):
    return current is None or any(current.get(key) != wanted.get(key) for key in RECORD_KEYS)


def _answered(result):
    return bool(result) and not result.get("unreachable") and not result.get("failed") and "node" in result


def heal_plan(node_results, ha_results, dead=()):
    """What cluster_heal does, from what the nodes answered (pure).

    node_results / ha_results: {node: registered node_info / ha_info result};
    dead: nodes confirmed dead. Returns {answered, suspects, lost, stale}:
    lost are the records of HA VMs whose home is dead and which no answering
    node has defined; stale are copies on answering nodes of VMs that live (are
    defined) on their recorded home elsewhere.
    """
    answered = sorted(node for node, result in node_results.items() if _answered(result))
    records = {}
    for node in answered:
        for record in (ha_results.get(node) or {}).get("records") or []:
            records.setdefault(record["name"], record)
    defined = {}
    for node in answered:
        for vm in node_results[node]["node"].get("vms") or []:
            defined.setdefault(vm["name"], []).append(node)
    lost = [record for name, record in sorted(records.items())
            if record.get("node") in dead and name not in defined]
    stale = [{"name": name, "node": node, "home": records[name]["node"]}
             for name, nodes in sorted(defined.items()) if name in records
             for node in nodes
             if records[name]["node"] != node and records[name]["node"] in nodes]
    return {"answered": answered, "suspects": sorted(set(node_results) - set(answered)), "lost": lost,
            "stale": stale}
