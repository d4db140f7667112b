# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's own record, /var/lib/vmm/node.json: the one place it is read and written.

The node role writes it at bootstrap (name, cluster, shared store, the domain
type that really boots, a routed node's gateway); node_maintenance updates it.
It describes the machine a module runs on, so a module talking to another
node's libvirt (a qemu+ssh URI) reads nothing from it.
"""

from __future__ import annotations

import json
import os

NODE_FACTS_PATH = "/var/lib/vmm/node.json"
LOCAL_URIS = ("qemu:///system", "qemu:///session")


def read_node_facts(path=NODE_FACTS_PATH):
    """The recorded facts; {} when there are none or they are not a JSON object."""
    try:
        with open(path) as handle:
            facts = json.load(handle)
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def facts_for(uri, path=NODE_FACTS_PATH):
    """This node's facts when `uri` is this node's own libvirt, else {}."""
    return read_node_facts(path) if uri in LOCAL_URIS else {}


def write_node_facts(facts, path=NODE_FACTS_PATH):
    """Replace the record atomically (readers see the old file or the new one, never half of it)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as handle:
        handle.write(json.dumps(facts, indent=4, sort_keys=True) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def set_maintenance(log, enabled, reason, now, path=NODE_FACTS_PATH):
    """Record whether this node is in maintenance (and why, since `now`): the result with before/after."""
    facts = read_node_facts(path)
    before = {"maintenance": bool(facts.get("maintenance")), "maintenance_reason": facts.get("maintenance_reason")}
    after = {"maintenance": enabled,
             "maintenance_reason": (reason or before["maintenance_reason"]) if enabled else None}
    if before != after:
        facts.update(after, maintenance_since=now if enabled else None)
        log.apply("put in maintenance" if enabled else "taken out of maintenance", write_node_facts, facts, path)
    return {"maintenance": enabled, "before": before, "after": after}
