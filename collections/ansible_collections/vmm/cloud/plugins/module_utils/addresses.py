# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses from IP pools for a VM's NICs, with the VMs themselves as the only record.

The pools are declared in the inventory (`vmm_ip_pools`, checked by ip_pools.parse_pools) and handed to the
module. What is in use is read, every time, from the metadata of every VM on this node, plus what the VMs of the
cluster's other nodes hold (`address_taken`, read from them by the playbook just before): a VM holds its
addresses in its own definition, so deleting it frees them and there is no second list to drift. Choosing an
address and defining the VM happen under one lock (the cluster's shared store when the node records one, else
the node's own), so two creates on a node never take the same address.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError
from ansible_collections.vmm.cloud.plugins.module_utils.ip_pools import (
    allocate,
    check_address,
    held_by,
    interface_config,
    parse_pools,
    pool_of,
    pools_for,
    usage,
)
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import normalize_request

NODE_LOCK_DIR = "/var/lib/vmm/locks"
LOCK_NAME = "ip-pools.lock"


def lock_path(node_facts):
    """The cluster's lock on its shared store when the node records one, else this node's."""
    shared = (node_facts or {}).get("shared_dir")
    return os.path.join(shared, "locks", LOCK_NAME) if shared else os.path.join(NODE_LOCK_DIR, LOCK_NAME)


def taken_entry(item):
    """(address, holder) of an `address_taken` entry: an address (holder None: some VM on another node), or
    {address, vm, node} as filter held_addresses gives them (holder `vm on node`)."""
    if not isinstance(item, dict):
        return str(item), None
    address, vm, node = (str(item.get(key) or "") for key in ("address", "vm", "node"))
    return address, (f"{vm} on {node}" if node else vm) if vm else None


def attach_of(nic):
    """What a NIC is on, as pools name it: (network, NAME), (bridge, NAME) or (routed, None)."""
    return ("routed", None) if nic["type"] == "routed" else (nic["type"], nic["source"])


class Addresses:
    """Pool addresses for one VM's NICs: which it keeps, which it gets, checked against every VM."""

    def __init__(self, client, raw_pools, taken=(), node_facts=None):
        self.client = client
        self.pools = parse_pools(raw_pools or [])
        self.taken = list(taken or [])
        self.node_facts = node_facts or {}

    @contextlib.contextmanager
    def locked(self):
        """Held from reading what is used to defining the VM that takes an address."""
        path = lock_path(self.node_facts)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- what is used ---------------------------------------------------------

    def used(self, exclude=None):
        """{address: VM name} of every VM here but `exclude` (the VM being changed), and what is taken elsewhere
        (`vm on node` when the playbook said which VM holds it, else None)."""
        held = {}
        self._read(self.client, exclude, held)
        for item in self.taken:
            address, holder = taken_entry(item)
            held.setdefault(address, holder)
        return held

    @staticmethod
    def _read(client, exclude, held):
        if client is None:  # ip_pool_info given every node's addresses
            return
        for dom in client.list_domains():
            if dom.name() == exclude:
                continue
            meta = parse_domain_xml(client.domain_xml(dom, inactive=True))["metadata"]
            for address in meta["ips"]:
                held.setdefault(address, dom.name())

    def usage(self):
        return usage(self.pools, self.used())

    # --- assignment -----------------------------------------------------------

    def needed(self, interfaces):
        """Whether these NICs ask anything of the pools or of other VMs' addresses (else no lock and no reading
        of every VM): an address or `auto` asked, or nothing asked where a pool serves the NIC."""
        if interfaces is None:
            return False
        for nic in interfaces:
            for version, key in ((4, "ipv4"), (6, "ipv6")):
                if nic[key] not in (None, "none"):
                    return True
                if nic[key] is None and any(p["version"] == version and tuple(p["attach"]) == attach_of(nic)
                                            for p in self.pools):
                    return True
        return False

    def assign(self, interfaces, current_interfaces, cluster, used):
        """The NICs with `addresses`: what each keeps, takes or is given; `used` ({address: VM}) grows with
        what is taken, so the NICs of one VM never share an address either."""
        assigned = []
        for index, nic in enumerate(interfaces):
            current = current_interfaces[index] if index < len(current_interfaces) else None
            nic = dict(nic)
            held = []
            for version, key in ((4, "ipv4"), (6, "ipv6")):
                held.extend(self._one(nic, current, cluster, version, nic[key], used, f"networks[{index}].{key}"))
            nic["addresses"] = held
            if nic["type"] == "routed":
                nic["source"] = next((a["address"] for a in held if a["version"] == 4), nic["source"])
            assigned.append(nic)
        return assigned

    def _one(self, nic, current, cluster, version, wanted, used, field):
        """The NIC's addresses of one version: its first as `wanted` says, then the others it holds (added by
        vmm.cloud.vm_address), kept."""
        attach = attach_of(nic)
        kept = [a for a in (current or {}).get("addresses") or [] if a["version"] == version]
        serving = pools_for(self.pools, attach, cluster, version)
        if wanted is None:
            wanted = ("keep" if kept else "none") if current is not None else ("auto" if serving else "none")
        if wanted == "none":
            return []
        if wanted == "keep" or (wanted == "auto" and kept and pool_of(serving, kept[0]["address"]) is not None):
            return [self.config(nic, held["address"], field, held) for held in kept]
        extras = [self.config(nic, held["address"], field, held) for held in kept[1:]
                  if held["address"] != wanted]
        if nic["type"] == "routed" and not serving and wanted != "auto":
            if wanted in used:  # a routed address where no pool serves routed NICs: the caller's, as before pools
                raise ConflictError(f"{field}: {wanted} is in use by {held_by(used[wanted])}", field=field)
            used[wanted] = "this VM"
            # IPv4: the NIC's `routed` address, as before pools; IPv6: a /128 of its own, held like a pool's
            return [{"address": wanted, "prefix": 128, "gateway": None, "dns": [], "version": 6,
                     "pool": None}] if version == 6 else []
        if wanted == "auto":
            pool, address = allocate(self.pools, attach, cluster, version, used, field)
        else:
            pool, address = check_address(self.pools, wanted, attach, cluster, used, field)
        used[address] = "this VM"
        return [self.config(nic, address, field, None, pool)] + extras

    def config(self, nic, address, field, kept=None, pool=None):
        """How the guest is told its address: from its pool as declared now (a changed gateway or DNS reaches
        the seed), else as recorded when the pool is gone."""
        pool = pool or pool_of(self.pools, address)
        if pool is not None:
            config = dict(interface_config(pool, address, field), pool=pool["name"])
        else:
            config = {k: kept[k] for k in ("address", "prefix", "gateway", "dns", "version", "pool")}
        if nic["type"] == "routed":  # a /32 or /128 on the VM's own tap, through the node
            config.update(prefix=32 if config["version"] == 4 else 128, gateway=None)
        return config


def networks_with_addresses(networks, interfaces):
    """The `networks` option as asked, each entry's ipv4 / ipv6 (and a routed NIC's address) set to what
    `interfaces` (Addresses.assign) gave it: what the vm module then checks and records on the node."""
    pinned = []
    for asked, nic in zip(networks, interfaces):
        entry = dict(asked)
        for version, key in ((4, "ipv4"), (6, "ipv6")):
            held = [a["address"] for a in nic["addresses"] if a["version"] == version]
            entry[key] = held[0] if held else "none"
        if nic["type"] == "routed":
            entry["routed"] = nic["source"]
            entry["ipv4"] = nic["source"]
        pinned.append(entry)
    return pinned


def reserve_addresses(raw_pools, networks, cluster, held, reserved):
    """Addresses for the NICs of a VM about to be created, chosen on the controller (placement) where every
    create of the installation meets: free in the pools, held by no VM of the candidate nodes (`held`, their
    node_info) and by no other create under way (`reserved`). ([networks with the addresses], [addresses]);
    the vm module checks them again on the node, against its own VMs."""
    addresses = Addresses(None, raw_pools, taken=list(held) + list(reserved))
    if not addresses.pools:
        return networks, []
    # the vm module's own defaults: a new VM without networks gets one NIC on the libvirt network `default`
    asked = networks or [{"network": "default"}]
    interfaces = normalize_request({"name": "placement", "networks": asked})["interfaces"]
    if not addresses.needed(interfaces):
        return networks, []
    assigned = addresses.assign(interfaces, (), cluster, addresses.used())
    return networks_with_addresses(asked, assigned), [a["address"] for nic in assigned for a in nic["addresses"]]
