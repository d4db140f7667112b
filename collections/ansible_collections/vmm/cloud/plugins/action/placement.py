# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vmm.cloud.placement runs on the controller: the choice is made where every
job of the installation meets, under one lock, with a ledger of reservations
so that two creates at once never count the same free memory twice."""

from __future__ import annotations

import fcntl
import json
import os
import time

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.vmm.cloud.plugins.module_utils.addresses import reserve_addresses
from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import PLACEMENT_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.placement import (
    lapsed,
    live_reservations,
    place,
    released,
    where_is,
)


class Ledger:
    """The reservations file, read and written under an exclusive lock."""

    def __init__(self, path):
        self.path = path
        self._lock = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o755, exist_ok=True)
        self._lock = open(f"{self.path}.lock", "a")  # pylint: disable=consider-using-with
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def read(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return []
        return data if isinstance(data, list) else []

    def write(self, reservations):
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(reservations, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


NOT_ASKED = {"unreachable": True, "msg": "not asked"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(PLACEMENT_SPEC, mutually_exclusive=[["candidates", "nodes"]]).validate(
            self._task.args)
        if validated.error_messages:
            raise AnsibleActionFail(f"vmm.cloud.placement: {'; '.join(validated.error_messages)}")
        args = validated.validated_parameters
        with Ledger(args["ledger"]) as ledger:
            reservations = ledger.read()
            now = time.time()
            if args["state"] == "released":
                kept = released(reservations, args["name"], now, args["ttl"], args["created"])
                changed = kept != reservations
                if changed and not self._task.check_mode:
                    ledger.write(kept)
                result.update(changed=changed, msg=("kept as done until facts read later show the VM" if args["created"]
                                                    else "released") if changed else "nothing reserved")
                return result
            result.update(self._place(args, ledger, reservations, now))
        return result

    def _place(self, args, ledger, reservations, now):
        nodes = self._candidates(args) if args["candidates"] is not None else args["nodes"]
        found = where_is(nodes, args["name"])
        if len(found) > 1:
            raise AnsibleActionFail(f"name: VM {args['name']} exists on several nodes: {', '.join(found)}")
        if found:
            return {"changed": False, "node": found[0], "existing": True, "verdicts": [], "networks": args["networks"],
                    "msg": f"{args['name']} already exists on {found[0]}"}
        request = {"memory_mib": args["memory"], "vcpus": args["vcpus"], "disk_gib": args["disk_size"],
                   "pool": args["pool"]}
        others = [r for r in reservations if r["vm"] != args["name"]]
        counted = live_reservations(others, nodes, now, args["ttl"], args["facts_since"])
        started = time.perf_counter()
        chosen, verdicts = place(nodes, request, args["policy"], counted)
        seconds = round(time.perf_counter() - started, 6)
        skipped = {v["node"]: v["reason"] for v in verdicts if not v["ok"]}
        if chosen is None:
            why = "; ".join(f"{node}: {reason}" for node, reason in skipped.items()) or "no candidate nodes"
            raise AnsibleActionFail(f"no node can take {args['name']} ({request['memory_mib']} MiB, "
                                    f"{request['vcpus']} vCPUs, {request['disk_gib']} GiB): {why}",
                                    result={"verdicts": verdicts, "skipped": skipped})
        pools = args["ip_pools"] or self._hostvar(chosen, args["pools_var"], [])
        networks, addresses = self._addresses(pools, args["networks"], nodes, chosen, counted, args["address_taken"])
        if not self._task.check_mode:
            ledger.write([r for r in others if not lapsed(r, now, args["ttl"])] +
                         [dict(request, node=chosen, vm=args["name"], since=now, addresses=addresses)])
        return {"changed": True, "node": chosen, "existing": False, "verdicts": verdicts, "skipped": skipped,
                "networks": networks, "addresses": addresses,
                "seconds": seconds, "msg": f"{args['name']} goes to {chosen}"
                + (f" (skipped: {'; '.join(f'{n}: {r}' for n, r in skipped.items())})" if skipped else "")}

    @staticmethod
    def _addresses(pools, networks, nodes, chosen, counted, taken):
        """The pool addresses of the new VM's NICs, reserved with the room: free of every candidate's VMs and of
        every other create under way, so creates at once on different nodes never take the same address."""
        held = [{"address": ip, "vm": vm.get("name"), "node": node} for node, facts in nodes.items()
                for vm in ((facts or {}).get("node") or {}).get("vms") or [] for ip in vm.get("ips") or []] + taken
        reserved = [address for item in counted for address in item.get("addresses") or []]
        cluster = ((nodes.get(chosen) or {}).get("node") or {}).get("cluster")
        try:
            return reserve_addresses(pools, networks, cluster, held, reserved)
        except VmmError as exc:
            raise AnsibleActionFail(exc.msg, result={"field": exc.field}) from None

    def _hostvar(self, host, name, default):
        """A variable of `host` as the host sees it (its group variables too); neither name is templated."""
        try:
            return self._templar.resolve_variable_expression(
                "hostvars[host][name]", local_variables={"host": host, "name": name})
        except AnsibleError:
            return default

    def _candidates(self, args):
        """{node: its node_info result} read from each candidate's host variables (a safe lookup: the names
        are never templated)."""
        nodes = {}
        for node in args["candidates"]:
            try:
                nodes[node] = self._templar.resolve_variable_expression(
                    "hostvars[node][facts]", local_variables={"node": node, "facts": args["facts_var"]})
            except AnsibleError:  # no such host, or it registered nothing (not asked)
                nodes[node] = NOT_ASKED
        return nodes
