"""The IP pools of the API's nodes (GET /api/v1/pools): declared in the inventory, held by the directory's VMs.

Declarations: the `vmm_ip_pools` variable of every node of `vmm_nodes`, as the
API reads its nodes (api/nodes.py: `ansible-inventory --list`, group and host
variables merged, values as written, never rendered as templates). Usually one
list for all nodes (a variable of `all` or `vmm_nodes`); cluster groups may
declare their own. Each distinct list is checked by the collection's own
`parse_pools`; a pool declared for several nodes counts once. One name
declared two ways, or one address in two pools, is an error, as it is in a
single list.

Holdings: the addresses the directory's VMs have (as jobs and the last
`inventory_sync` saw them, the VMs of a silent node included), matched to the
pools by the collection's `usage`. Nothing here asks a node.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.ip_pools import parse_pools, usage

from .errors import ApiError

VARIABLE = "vmm_ip_pools"
_ITEM = re.compile(r"\bpools\[(\d+)\]")


def _broken(field, detail, node):
    return ApiError(500, f"The inventory's IP pools are not valid ({VARIABLE} of node {node}): {field}{detail}",
                    field=field)


def _parse(raw, origins, node):
    """parse_pools(raw); an error names the field as the inventory spells it: origins[i] is (node, index) of
    raw[i] in that node's list, `node` the node of the list as a whole."""
    try:
        return parse_pools(raw, field="pools")
    except ValidationError as err:
        field = err.field or "pools"
        detail = err.msg[len(field):] if err.msg.startswith(field) else f": {err.msg}"
        detail = _ITEM.sub(lambda item: f"{VARIABLE}[{origins[int(item.group(1))][1]}]", detail)
        found = _ITEM.match(field)
        if not found:
            raise _broken(VARIABLE + field[len("pools"):], detail, node) from None
        where, index = origins[int(found.group(1))]
        raise _broken(f"{VARIABLE}[{index}]{field[found.end():]}", detail, where) from None


def declared_pools(node_vars):
    """The pools the nodes' `vmm_ip_pools` declare (`node_vars`: {node: variables}), each once, in the
    order of the nodes' names and of their lists; ApiError(500) naming the node and the field."""
    lists = {}  # one entry per distinct list: the first node that has it
    for node in sorted(node_vars):
        raw = node_vars[node].get(VARIABLE)
        if raw is not None:
            lists.setdefault(json.dumps(raw, sort_keys=True, default=str), (node, raw))
    chosen, origins, seen = [], [], {}
    for node, raw in lists.values():
        pools = _parse(raw, [(node, index) for index in range(len(raw))] if isinstance(raw, list) else [], node)
        for index, pool in enumerate(pools):
            if pool["name"] not in seen:
                seen[pool["name"]] = (node, index, pool)
                chosen.append(raw[index])
                origins.append((node, index))
            elif seen[pool["name"]][2] != pool:
                first, at, _ = seen[pool["name"]]
                raise _broken(f"{VARIABLE}[{index}].name", f": pool {pool['name']} is declared otherwise for "
                                                            f"node {first} (its {VARIABLE}[{at}])", node)
    return _parse(chosen, origins, None)  # every address in one pool only, across the lists too


def _canonical(text):
    try:
        return str(ipaddress.ip_interface(text).ip if "/" in text else ipaddress.ip_address(text))
    except ValueError:
        return None


def holders(vms):
    """{address: [VM names]} of `vms`, (name, addresses) pairs; addresses in canonical text."""
    held = {}
    for name, addresses in vms:
        for text in addresses:
            address = _canonical(str(text).strip())
            if address and name not in held.setdefault(address, []):
                held[address].append(name)
    return held


def report(pools, vms):
    """Per pool: what it is, its size, used and free counts, and every used address with the VM holding
    it (an address two VMs hold is listed for each: a conflict to resolve)."""
    held = holders(vms)
    results = []
    for pool in usage(pools, held):
        addresses = [{"address": address, "vm": vm} for address in pool.pop("addresses") for vm in held[address]]
        results.append({**pool, "addresses": addresses})
    return results


class PoolReport:
    def __init__(self, node_list, store):
        self.node_list = node_list
        self.store = store

    def pools(self):
        try:
            node_vars = self.node_list.variables()
        except RuntimeError as err:  # ansible-inventory failed: its message says why
            raise ApiError(500, f"The API could not read its inventory: {err}") from None
        return report(declared_pools(node_vars), self.store.vm_addresses())
