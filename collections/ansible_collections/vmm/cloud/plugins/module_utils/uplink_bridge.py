# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bridge over the uplink, with the uplink's addresses and routes moved onto it.

`plan(state, uplink, bridge)` is pure: from what `ip -j` reports it returns the
`ip` argv lists that bring the node there, in an order that keeps the node
reachable: the bridge gets the uplink's MAC address and its addresses before
the uplink becomes its port and loses them; routes through a gateway are
re-added on the bridge.
An empty plan means nothing to do. `IpTool` runs `ip` and reads its JSON.
"""

from __future__ import annotations

import json
import re

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError, VmmError

IP = "ip"


def _global_addresses(addr_info):
    return [a for a in addr_info or [] if a.get("scope") == "global" and a.get("family") in ("inet", "inet6")]


def _cidr(address):
    return f"{address['local']}/{address['prefixlen']}"


def _moved_routes(routes):
    """Routes through a gateway; the kernel makes the on-link ones from the addresses itself."""
    return [r for r in routes or [] if r.get("gateway") and r.get("protocol") != "kernel"]


def _route_argv(route, family, dev):
    argv = [IP] + (["-6"] if family == "inet6" else []) + ["route", "replace", route["dst"], "via", route["gateway"],
                                                           "dev", dev]
    if route.get("metric") is not None:
        argv += ["metric", str(route["metric"])]
    return argv


def plan(state, uplink, bridge):
    """[argv] turning `state` into: bridge up, uplink enslaved, addresses and gateway routes on the bridge.

    state: {"links": {name: ip -j link entry}, "addresses": {name: addr_info list},
            "routes": {name: {"inet": [...], "inet6": [...]}}}
    """
    links = state["links"]
    if uplink not in links:
        raise ValidationError(f"uplink: no interface called {uplink}", field="uplink")
    up_link = links[uplink]
    if up_link.get("master") not in (None, bridge):
        raise ValidationError(f"uplink: {uplink} is already a port of {up_link['master']}", field="uplink")
    steps = []
    existing = links.get(bridge)
    if existing is None:
        steps.append([IP, "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    elif (existing.get("linkinfo") or {}).get("info_kind", "bridge") != "bridge":
        raise ValidationError(f"bridge: {bridge} exists and is not a bridge", field="bridge")
    mac = up_link.get("address")
    if mac and (existing is None or existing.get("address") != mac):
        steps.append([IP, "link", "set", bridge, "address", mac])
    if existing is None or "UP" not in (existing.get("flags") or []):
        steps.append([IP, "link", "set", bridge, "up"])
    on_bridge = {_cidr(a) for a in _global_addresses(state["addresses"].get(bridge))}
    moving = _global_addresses(state["addresses"].get(uplink))
    for address in moving:
        if _cidr(address) not in on_bridge:
            steps.append([IP, "addr", "add", _cidr(address), "dev", bridge])
    if up_link.get("master") != bridge:
        steps.append([IP, "link", "set", uplink, "master", bridge])
    for address in moving:
        steps.append([IP, "addr", "del", _cidr(address), "dev", uplink])
    for family in ("inet", "inet6"):
        for route in _moved_routes((state["routes"].get(uplink) or {}).get(family)):
            steps.append(_route_argv(route, family, bridge))
    return steps


class IpTool:
    """`ip` through the module's run_command (argv lists, never a shell)."""

    def __init__(self, run):
        self.run = run

    def _json(self, argv):
        rc, out, err = self.run([IP, "-j"] + argv)
        if rc != 0:
            raise VmmError(f"{' '.join([IP] + argv)}: {(err or out).strip()}")
        return json.loads(out or "[]")

    def state(self, names):
        links = {link["ifname"]: link for link in self._json(["-d", "link", "show"])}
        addresses, routes = {}, {}
        for name in names:
            if name not in links:
                continue
            entries = self._json(["addr", "show", "dev", name])
            addresses[name] = entries[0].get("addr_info", []) if entries else []
            routes[name] = {"inet": self._json(["-4", "route", "show", "dev", name]),
                            "inet6": self._json(["-6", "route", "show", "dev", name])}
        return {"links": links, "addresses": addresses, "routes": routes}

    def apply(self, argv):
        rc, out, err = self.run(argv)
        if rc != 0:
            raise VmmError(f"{' '.join(argv)}: {(err or out).strip()}")


_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def bridge_facts(ip, bridge):
    """(global addresses as address/prefix, IPv4 default gateway or None) of `bridge` now."""
    state = ip.state([bridge])
    addresses = [f"{a['local']}/{a['prefixlen']}" for a in state["addresses"].get(bridge, [])
                 if a.get("scope") == "global"]
    gateway = next((r.get("gateway") for r in (state["routes"].get(bridge) or {}).get("inet", [])
                    if r.get("dst") == "default"), None)
    return addresses, gateway


def bridge_uplink(run_command, log, uplink, bridge):
    """Make `bridge` carry `uplink` (its addresses and routes moved over): the result and its `commands`."""
    for field, name in (("bridge", bridge), ("uplink", uplink)):
        if not _IFNAME.fullmatch(name):
            raise ValidationError(f"{field}: not a valid interface name: {name!r}", field=field)
    ip = IpTool(run_command)
    steps = plan(ip.state([uplink, bridge]), uplink, bridge)
    for argv in steps:
        log.apply(" ".join(argv), ip.apply, argv)
    addresses, gateway = bridge_facts(ip, bridge)
    return {"commands": steps, "addresses": addresses, "gateway": gateway,
            "msg": f"{uplink} bridged as {bridge}" if steps else "already as wanted"}
