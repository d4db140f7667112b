# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vmm.cloud.vm_address`: add an address to a NIC of a VM, or remove one, beside the VM service.

The VM's definition is the record (addresses.py): the address goes into its metadata, its NIC's anti-spoofing
filter (updated in the running guest at once, so the address passes as soon as the guest uses it) and its seed's
network config, which the guest applies at its next boot (seed.NETWORK_UPDATES). A seed whose network config is
the user's own is left alone: the result says the guest must be told by other means.
"""

from __future__ import annotations

import json

from ansible_collections.vmm.cloud.plugins.module_utils.addresses import Addresses, attach_of
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    build_domain_xml,
    interface_with_filter,
    parse_domain_xml,
)
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.ip_pools import allocate, check_address
from ansible_collections.vmm.cloud.plugins.module_utils.nwfilter import ensure_filters, needs_vmm_filters
from ansible_collections.vmm.cloud.plugins.module_utils.seed import (
    read_seed_iso,
    seed_digest,
    write_seed_iso,
)
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name, check_positive_int
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    filtered,
    held_addresses,
    ips_with_pool_addresses,
    managed_seed_path,
    seed_network_config,
    static_ips,
)


def _request(params):
    address = params.get("address") or "auto"
    state = params.get("state") or "present"
    if state not in ("present", "absent"):
        raise ValidationError(f"state: must be present or absent (got {state!r})", field="state")
    if address == "auto" and state == "absent":
        raise ValidationError("address: give the address to remove (auto only adds)", field="address")
    version = params.get("version") or 4
    if version not in (4, 6):
        raise ValidationError(f"version: must be 4 or 6 (got {version!r})", field="version")
    return {"name": check_name(params["name"]), "address": address, "version": version, "state": state,
            "nic": check_positive_int(params.get("nic") or 0, "nic", minimum=0, maximum=15),
            "count": check_positive_int(params.get("count") or 1, "count", maximum=64)}


class VmAddressService:
    def __init__(self, context):
        self.client = context.client
        self.run = context.run
        self.log = context.log
        self.request = _request(context.module.params)
        params = context.module.params
        self.addresses = Addresses(self.client, params.get("ip_pools"), params.get("address_taken"),
                                   context.node_facts)
        self.outcome = {"applied_live": [], "pending_restart": []}

    def ensure(self):
        request = self.request
        dom = self.client.get_domain(request["name"])
        with self.addresses.locked():
            current = parse_domain_xml(self.client.domain_xml(dom, inactive=True))
            if request["nic"] >= len(current["interfaces"]):
                raise ValidationError(f"nic: VM {request['name']} has {len(current['interfaces'])} NIC(s); there "
                                      f"is no NIC {request['nic']}", field="nic")
            nic = current["interfaces"][request["nic"]]
            before = [a["address"] for a in nic["addresses"]]
            held = self._wanted(nic, current, request)
            result = {"vm": {"name": request["name"], "nic": request["nic"], "mac": nic["mac"],
                             "addresses": [{k: a.get(k) for k in ("address", "prefix", "gateway", "pool")}
                                           for a in held]},
                      "before": {"addresses": before}, "after": {"addresses": [a["address"] for a in held]}}
            if [a["address"] for a in held] != before:
                self._apply(dom, current, request["nic"], held)
        result.update(self.outcome)
        return result

    def _wanted(self, nic, current, request):
        """The NIC's addresses once the request is met."""
        held = list(nic["addresses"])
        address, version = request["address"], request["version"]
        if request["state"] == "absent":
            return [a for a in held if a["address"] != address]
        cluster = current["metadata"].get("cluster")
        attach = attach_of(nic)
        used = self.addresses.used(exclude=request["name"])
        used.update((a["address"], request["name"]) for a in held)  # its own NIC's, not to be taken twice
        field = "address"
        if address != "auto":
            if any(a["address"] == address for a in held):
                return held
            pool, taken = check_address(self.addresses.pools, address, attach, cluster, used, field)
            return held + [self.addresses.config(nic, taken, field, pool=pool)]
        while sum(1 for a in held if a["version"] == version) < request["count"]:
            pool, taken = allocate(self.addresses.pools, attach, cluster, version, used, field)
            used[taken] = request["name"]
            held.append(self.addresses.config(nic, taken, field, pool=pool))
        return held

    def _apply(self, dom, current, index, held):
        interfaces = [dict(nic) for nic in current["interfaces"]]
        was = current["interfaces"][index]
        interfaces[index]["addresses"] = held
        # the NIC keeps anti-spoofing as it was: on where it was bound (or held nothing yet), off where the VM was
        # made with anti_spoofing=false
        anti_spoofing = bool(was.get("filter")) or not was["addresses"]
        interfaces[index] = filtered([interfaces[index]], anti_spoofing)[0]
        if needs_vmm_filters(interfaces):
            ensure_filters(self.client, self.log)
        spec = dict(current, interfaces=interfaces)
        meta = dict(current["metadata"], addresses=held_addresses(interfaces),
                    ips=ips_with_pool_addresses(current["metadata"], interfaces))
        seed_path = managed_seed_path(current)
        files = read_seed_iso(self.run, seed_path)
        ours = json.loads(files.get("network-config") or "null") == seed_network_config(current["interfaces"])
        if ours:
            files["network-config"] = (json.dumps(seed_network_config(interfaces), sort_keys=True) + "\n").encode()
            meta["seed_sha256"] = seed_digest(files)
            self.outcome["pending_restart"].append("addresses")
        else:
            own = static_ips(json.loads(files.get("network-config") or "null"))
            meta["ips"] += [ip for ip in own if ip not in meta["ips"]]
            self.outcome["guest_config"] = ("the VM's network config is its own (cloud_init.network_config): "
                                            "configure the address in the guest")
        spec["metadata"] = meta
        self.log.apply(f"recorded addresses {', '.join(a['address'] for a in held) or 'none'} on NIC {index}",
                       self.client.define, build_domain_xml(spec))
        if ours:
            self.log.apply(f"rewrote seed {seed_path}", write_seed_iso, self.run, seed_path, files)
        if self.client.is_active(dom) and interfaces[index]["filter"] != was.get("filter"):
            live = interface_with_filter(self.client.domain_xml(dom), interfaces[index]["mac"],
                                         interfaces[index].get("filter"))
            self.log.apply(f"updated the anti-spoofing filter of NIC {index} live", self.client.update_device_live,
                           dom, live)
            self.outcome["applied_live"].append("filter")
