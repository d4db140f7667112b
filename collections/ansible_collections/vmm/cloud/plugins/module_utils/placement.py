# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement: which node of a cluster gets a new VM, and why the others did not (pure).

Input is what `vmm.cloud.node_info` returned for each candidate (or why it
could not be read), the request, the policy and the reservations other
creates hold but have not turned into domains yet. A node is left out when it
is unreachable, its libvirtd does not answer, it is in maintenance, no domain
type boots on it, or the VM does not fit (memory against total x overcommit
minus a reserve, vCPUs against logical CPUs x overcommit, disk against the
pool's free bytes). Among the rest the one with the most memory left after
placement wins, then the most vCPU headroom, then the name.
"""

from __future__ import annotations

MIB = 1024 * 1024
GIB = 1024 * MIB

DEFAULT_POLICY = {
    "cpu_overcommit": 4.0,
    "memory_overcommit": 1.0,
    "memory_reserve_mib": 256,
    "disk_reserve_gib": 1,
}


def _usage(facts, reserved, pool):
    """Committed memory (MiB), vCPUs and disk (bytes) on a node, reservations included."""
    memory = sum(vm.get("memory_mib") or 0 for vm in facts.get("vms") or [])
    vcpus = sum(vm.get("vcpus") or 0 for vm in facts.get("vms") or [])
    disk = 0
    for item in reserved:
        memory += item["memory_mib"]
        vcpus += item["vcpus"]
        if item.get("pool", pool) == pool:
            disk += item["disk_gib"] * GIB
    return memory, vcpus, disk


def _pool_free(facts, pool):
    for item in facts.get("pools") or []:
        if item.get("name") == pool:
            return item.get("available") if item.get("active") else None
    return None


def judge(name, facts, request, policy, reserved=()):
    """One node's verdict: {node, ok, reason, memory_left_mib, vcpus_left, disk_left_gib}."""
    verdict = {"node": name, "ok": False, "reason": None, "memory_left_mib": None, "vcpus_left": None,
               "disk_left_gib": None}
    if not facts or facts.get("unreachable"):
        verdict["reason"] = f"unreachable: {(facts or {}).get('msg') or 'no facts'}".strip()
        return verdict
    if facts.get("failed"):
        verdict["reason"] = f"node_info failed: {facts.get('msg') or 'unknown error'}"
        return verdict
    node = facts.get("node", facts)
    if not node.get("libvirtd_alive"):
        verdict["reason"] = f"libvirtd does not answer: {node.get('error') or 'unknown error'}"
        return verdict
    if node.get("maintenance"):
        verdict["reason"] = "in maintenance"
        return verdict
    if not node.get("domain_type"):
        verdict["reason"] = "no domain type boots a guest here"
        return verdict
    memory, vcpus, disk = _usage(node, reserved, request["pool"])
    memory_cap = int(node["memory_total_mib"] * policy["memory_overcommit"]) - policy["memory_reserve_mib"]
    vcpu_cap = int(node["cpus"] * policy["cpu_overcommit"])
    verdict["memory_left_mib"] = memory_cap - memory - request["memory_mib"]
    verdict["vcpus_left"] = vcpu_cap - vcpus - request["vcpus"]
    free = _pool_free(node, request["pool"])
    if free is None:
        verdict["reason"] = f"no active storage pool {request['pool']}"
        return verdict
    verdict["disk_left_gib"] = round((free - disk) / GIB - policy["disk_reserve_gib"] - request["disk_gib"], 2)
    if verdict["memory_left_mib"] < 0:
        verdict["reason"] = (f"not enough memory: {request['memory_mib']} MiB asked, "
                             f"{max(memory_cap - memory, 0)} MiB left of {memory_cap}")
    elif verdict["vcpus_left"] < 0:
        verdict["reason"] = (f"not enough vCPUs: {request['vcpus']} asked, {max(vcpu_cap - vcpus, 0)} left of "
                             f"{vcpu_cap} ({node['cpus']} CPUs x {policy['cpu_overcommit']})")
    elif verdict["disk_left_gib"] < 0:
        verdict["reason"] = (f"not enough disk in pool {request['pool']}: {request['disk_gib']} GiB asked, "
                             f"{max(round((free - disk) / GIB - policy['disk_reserve_gib'], 2), 0)} GiB left")
    else:
        verdict["ok"] = True
    return verdict


def place(nodes, request, policy=None, reservations=()):
    """(chosen node name or None, verdicts sorted best first).

    nodes: {name: node_info result}; request: {memory_mib, vcpus, disk_gib, pool};
    reservations: [{node, vm, memory_mib, vcpus, disk_gib, pool}] not yet visible as domains.
    """
    policy = {**DEFAULT_POLICY, **(policy or {})}
    by_node = {}
    for item in reservations:
        by_node.setdefault(item["node"], []).append(item)
    verdicts = [judge(name, facts, request, policy, by_node.get(name, ())) for name, facts in nodes.items()]
    verdicts.sort(key=lambda v: (not v["ok"], -(v["memory_left_mib"] or 0), -(v["vcpus_left"] or 0), v["node"]))
    chosen = verdicts[0]["node"] if verdicts and verdicts[0]["ok"] else None
    return chosen, verdicts


def where_is(nodes, vm_name):
    """The nodes whose facts list a domain called vm_name."""
    found = []
    for name, facts in nodes.items():
        node = (facts or {}).get("node", facts or {})
        if any(vm.get("name") == vm_name for vm in node.get("vms") or []):
            found.append(name)
    return sorted(found)


def lapsed(item, now, ttl):
    """A reservation never released (`since`), or kept after its create (`done`), older than ttl seconds."""
    return now - item.get("done", item["since"]) > ttl


def live_reservations(reservations, nodes, now, ttl, facts_since=None):
    """Reservations still holding room: not lapsed, and not yet a domain in `nodes`. A created VM's (`done`,
    see released) counts only while the facts may predate its domain: read since `facts_since`, before it was
    done. Without facts_since, it does not count (the facts' age unknown: as before creates were kept)."""
    kept = []
    for item in reservations:
        if lapsed(item, now, ttl):
            continue
        if "done" in item and (facts_since is None or facts_since > item["done"]):
            continue
        facts = nodes.get(item["node"])
        if facts is not None and item["node"] in where_is({item["node"]: facts}, item["vm"]):
            continue
        kept.append(item)
    return kept


def released(reservations, vm_name, now, ttl, created=False):
    """The ledger once vm_name's create is over. A failed create's reservation goes. A created VM's stays,
    marked done: a create running at the same time may hold facts read before the domain was defined, where
    neither the domain nor, without it, the reservation would count its memory and addresses."""
    kept = []
    for item in reservations:
        if item["vm"] == vm_name:
            if not created:
                continue
            item = dict(item, done=item.get("done", now))
        if not lapsed(item, now, ttl):
            kept.append(item)
    return kept


def node_health(node, min_free_mib=256, min_pool_free_gib=1):
    """{ok, problems} of one node's node_info facts: what keeps it from taking VMs, in words."""
    problems = []
    if not node.get("libvirtd_alive"):
        problems.append(f"libvirtd does not answer: {node.get('error') or 'unknown error'}")
    else:
        if not node.get("domain_type"):
            problems.append("no domain type boots a guest here")
        free = node.get("memory_free_mib")
        if free is not None and free < min_free_mib:
            problems.append(f"free memory low: {free} MiB")
        for pool in node.get("pools") or []:
            if not pool.get("active"):
                problems.append(f"storage pool {pool.get('name')} is not active")
            elif (pool.get("available") or 0) < min_pool_free_gib * GIB:
                problems.append(f"storage pool {pool.get('name')} nearly full: "
                                f"{(pool.get('available') or 0) / GIB:.2f} GiB free")
    if node.get("maintenance"):
        problems.append("in maintenance")
    return {"ok": not problems, "problems": problems}
