# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IP address pools (inventory `vmm_ip_pools`): validation, lookup, allocation and usage (pure).

A pool is a subnet, the ranges of it that VMs get addresses from (default: all
of its usable hosts), a gateway and reserved addresses that are never handed
out, and the NICs it serves: one libvirt network, one host bridge or routed
NICs, in one cluster or in all. Addresses are kept as integer spans
(first, last), never as lists, so that a /64 costs no more than a /24.

Never allocatable, and left out of every range: an IPv4 subnet's network and
broadcast addresses (prefix 30 or shorter) and an IPv6 subnet's
Subnet-Router anycast address, its first one (prefix 126 or shorter).
"""

from __future__ import annotations

import bisect
import ipaddress
import re

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name

POOL_KEYS = ("name", "subnet", "ranges", "gateway", "dns", "reserved", "network", "bridge", "routed", "cluster")
ATTACH_KINDS = ("network", "bridge", "routed")
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")  # what vm_spec takes for a NIC's bridge


# Spans: sorted lists of (first, last) integer pairs.

def _merge(spans):
    merged = []
    for first, last in sorted(tuple(span) for span in spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _without(spans, points):
    """`spans` minus the single addresses `points`."""
    result = []
    for first, last in spans:
        for point in sorted(p for p in points if first <= p <= last):
            if first < point:
                result.append((first, point - 1))
            first = point + 1
        if first <= last:
            result.append((first, last))
    return result


def _shared(a, b):
    """The first span two merged span lists have in common, or None."""
    i = j = 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            return first, last
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return None


def _count_shared(a, b):
    i = j = total = 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]) + 1)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _within(spans, value, firsts=None):
    index = bisect.bisect_right(firsts or [span[0] for span in spans], value) - 1
    return index >= 0 and value <= spans[index][1]


def _size(spans):
    return sum(last - first + 1 for first, last in spans)


def _text(version, value):
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _span_text(version, span):
    first, last = span
    return _text(version, first) if first == last else f"{_text(version, first)}-{_text(version, last)}"


# Parsing the declaration.

def _address(value, field):
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value.strip())
        except ValueError:
            pass
    raise ValidationError(f"{field}: not an IPv4 or IPv6 address (got {value!r})", field=field)


def _list(value, field):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{field}: must be a list (got {value!r})", field=field)
    return list(value)


def _subnet(value, field):
    if not isinstance(value, str) or "/" not in value:
        raise ValidationError(f"{field}: must be a network like 192.0.2.0/24 or 2001:db8::/64 (got {value!r})",
                              field=field)
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError as err:
        try:
            hint = f" (the network is {ipaddress.ip_network(value.strip(), strict=False)})"
        except ValueError:
            hint = ""
        raise ValidationError(f"{field}: {err}{hint}", field=field) from None


def _unusable(net):
    """Addresses of `net` never given to a host: IPv4 network and broadcast, IPv6 Subnet-Router anycast."""
    if net.version == 4 and net.prefixlen <= 30:
        return {int(net.network_address): "the network address", int(net.broadcast_address): "the broadcast address"}
    if net.version == 6 and net.prefixlen <= 126:
        return {int(net.network_address): "the Subnet-Router anycast address"}
    return {}


def _span(value, net, field):
    """'A-B', one address or a CIDR, inside `net`, as (first, last)."""
    bad = ValidationError(f"{field}: not an address, a range A-B or a network inside {net} (got {value!r})",
                          field=field)
    if not isinstance(value, str):
        raise bad
    text = value.strip()
    try:
        if "/" in text:
            inner = ipaddress.ip_network(text)
            version, first, last = inner.version, int(inner.network_address), int(inner.broadcast_address)
        else:
            start, dash, end = text.partition("-")
            first, last = ipaddress.ip_address(start.strip()), ipaddress.ip_address((end if dash else start).strip())
            if first.version != last.version:
                raise ValidationError(f"{field}: {text} mixes an IPv{first.version} and an IPv{last.version} address",
                                      field=field)
            version, first, last = first.version, int(first), int(last)
    except ValueError as err:
        raise ValidationError(f"{bad.msg}: {err}", field=field) from None
    if first > last:
        raise ValidationError(f"{field}: {text} starts after it ends", field=field)
    if version != net.version or first < int(net.network_address) or last > int(net.broadcast_address):
        raise ValidationError(f"{field}: {text} is outside subnet {net}", field=field)
    return first, last


def _ranges(raw, net, unusable, field):
    if raw is None:
        return _without([(int(net.network_address), int(net.broadcast_address))], unusable)
    items = _list(raw, field)
    if not items:
        raise ValidationError(f"{field}: must not be empty (leave it out for the whole subnet)", field=field)
    spans = []
    for index, item in enumerate(items):
        span = _span(item, net, f"{field}[{index}]")
        if not _without([span], unusable):
            raise ValidationError(f"{field}[{index}]: {item} is {unusable[span[0]]} of {net}",
                                  field=f"{field}[{index}]")
        spans.append(span)
    return _without(_merge(spans), unusable)


def _gateway(raw, net, unusable, field):
    if raw is None:
        return None
    gateway = _address(raw, field)
    if gateway not in net:
        raise ValidationError(f"{field}: {gateway} is outside subnet {net}", field=field)
    if int(gateway) in unusable:
        raise ValidationError(f"{field}: {gateway} is {unusable[int(gateway)]} of {net}", field=field)
    return gateway


def _attach(raw, where):
    given = [key for key in ATTACH_KINDS if raw.get(key)]
    if len(given) != 1:
        raise ValidationError(f"{where}: give exactly one of network, bridge or routed "
                              f"(got {', '.join(given) or 'none'})", field=where)
    kind, value = given[0], raw[given[0]]
    if kind == "network":
        return "network", check_name(value, field=f"{where}.network")
    if kind == "bridge":
        if not isinstance(value, str) or not _BRIDGE_RE.fullmatch(value):
            raise ValidationError(f"{where}.bridge: not a valid interface name: {value!r}", field=f"{where}.bridge")
        return "bridge", value
    if value is not True:
        raise ValidationError(f"{where}.routed: must be true (got {value!r})", field=f"{where}.routed")
    return "routed", None


def _pool(raw, where):
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: must be a mapping (got {type(raw).__name__})", field=where)
    unknown = sorted(str(key) for key in raw if key not in POOL_KEYS)
    if unknown:
        raise ValidationError(f"{where}.{unknown[0]}: unknown key(s) {', '.join(unknown)}; a pool takes "
                              f"{', '.join(POOL_KEYS)}", field=f"{where}.{unknown[0]}")
    name = check_name(raw.get("name"), field=f"{where}.name")
    if raw.get("subnet") is None:
        raise ValidationError(f"{where}.subnet: required", field=f"{where}.subnet")
    net = _subnet(raw["subnet"], f"{where}.subnet")
    unusable = _unusable(net)
    ranges = _ranges(raw.get("ranges"), net, unusable, f"{where}.ranges")
    gateway = _gateway(raw.get("gateway"), net, unusable, f"{where}.gateway")
    reserved = _merge(_span(item, net, f"{where}.reserved[{i}]")
                      for i, item in enumerate(_list(raw.get("reserved"), f"{where}.reserved")))
    dns = [str(_address(item, f"{where}.dns[{i}]")) for i, item in enumerate(_list(raw.get("dns"), f"{where}.dns"))]
    attach = _attach(raw, where)
    cluster = check_name(raw["cluster"], field=f"{where}.cluster") if raw.get("cluster") else None
    blocked = _blocked(reserved, gateway and int(gateway))
    return {"name": name, "version": net.version, "subnet": str(net), "prefix": net.prefixlen,
            "gateway": gateway and str(gateway), "dns": dns, "ranges": ranges, "reserved": reserved,
            "attach": attach, "cluster": cluster, "size": _size(ranges) - _count_shared(ranges, blocked)}


def _blocked(reserved, gateway, used=()):
    """Reserved spans, the gateway and `used` (sorted ints) as one merged span list."""
    points = ([(gateway, gateway)] if gateway is not None else []) + [(u, u) for u in used]
    return _merge(list(reserved) + points)


def parse_pools(raw, field="ip_pools"):
    """Validated, normalized pools; errors name the field (`ip_pools[2].ranges[0]`). None is no pools."""
    pools = []
    seen = {}
    for index, item in enumerate(_list(raw, field)):
        where = f"{field}[{index}]"
        pool = _pool(item, where)
        if pool["name"] in seen:
            raise ValidationError(f"{where}.name: pool {pool['name']} is already declared at "
                                  f"{field}[{seen[pool['name']]}]", field=f"{where}.name")
        seen[pool["name"]] = index
        for earlier in pools:
            shared = earlier["version"] == pool["version"] and _shared(earlier["ranges"], pool["ranges"])
            if shared:
                at = f"{where}.ranges" if item.get("ranges") is not None else f"{where}.subnet"
                raise ValidationError(f"{at}: {_span_text(pool['version'], shared)} is also in pool "
                                      f"{earlier['name']} ({earlier['subnet']}); an address belongs to one pool only",
                                      field=at)
        pools.append(pool)
    return pools


# Using the pools.

def _attach_key(attach):
    kind, source = attach
    return ("routed", None) if kind == "routed" else (kind, source)


def _serves(pool, attach, cluster):
    return _attach_key(pool["attach"]) == _attach_key(attach) and pool["cluster"] in (None, cluster or None)


def _serving_text(attach, cluster):
    kind, source = _attach_key(attach)
    what = "routed NICs" if kind == "routed" else f"{kind} {source}"
    return what + (f" in cluster {cluster}" if cluster else "")


def _names(pools):
    return ", ".join(f"{pool['name']} ({pool['subnet']})" for pool in pools)


def pools_for(pools, attach, cluster, version=None):
    """Pools serving NICs on `attach` (("network", name), ("bridge", name), ("routed", _)) of a VM in
    `cluster`, in declaration order: a pool without a cluster serves every cluster."""
    return [pool for pool in pools
            if _serves(pool, attach, cluster) and (version is None or pool["version"] == version)]


def _parse_used(used):
    """`used` as {version: sorted ints}; 'address/prefix' is read as its address, anything else is skipped."""
    found = {4: set(), 6: set()}
    for item in used or ():
        text = str(item).strip()
        try:
            address = ipaddress.ip_interface(text).ip if "/" in text else ipaddress.ip_address(text)
        except ValueError:
            continue
        found[address.version].add(int(address))
    return {version: sorted(values) for version, values in found.items()}


def _in_subnet(pool, value):
    net = ipaddress.ip_network(pool["subnet"])
    return int(net.network_address) <= value <= int(net.broadcast_address)


def _owner(pools, address):
    value = int(address)
    same = [pool for pool in pools if pool["version"] == address.version]
    for pool in same:
        if _within(pool["ranges"], value):
            return pool
    return next((pool for pool in same if _in_subnet(pool, value)), None)


def pool_of(pools, address):
    """The pool whose ranges hold `address` (else whose subnet does), or None; also None for a non-address."""
    try:
        address = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return None
    return _owner(pools, address)


def held_by(holder):
    """What holds an address, for a refusal: `VM web1`, `VM web1 on node2`, or another VM when nobody said which."""
    return f"VM {holder}" if holder else "another VM"


def check_address(pools, address, attach, cluster, used, field):
    """An address the user asked for, checked against the pools serving the NIC: (pool, address text)."""
    parsed = _address(address, field)
    serving = pools_for(pools, attach, cluster, parsed.version)
    where = _serving_text(attach, cluster)
    if not serving:
        raise ValidationError(f"{field}: {parsed} is not in an IP pool: no IPv{parsed.version} pool serves {where}",
                              field=field)
    owner = _owner(pools, parsed)
    if owner is not None and owner not in serving and _within(owner["ranges"], int(parsed)):
        raise ValidationError(f"{field}: {parsed} is in pool {owner['name']}, which does not serve {where}; "
                              f"pools that do: {_names(serving)}", field=field)
    pool = owner if owner in serving else _owner(serving, parsed)
    if pool is None:
        raise ValidationError(f"{field}: {parsed} is in no pool serving {where}; pools that do: {_names(serving)}",
                              field=field)
    net = ipaddress.ip_network(pool["subnet"])
    unusable = _unusable(net)
    if int(parsed) in unusable:
        raise ValidationError(f"{field}: {parsed} is {unusable[int(parsed)]} of {net}", field=field)
    if str(parsed) == pool["gateway"]:
        raise ValidationError(f"{field}: {parsed} is the gateway of pool {pool['name']}", field=field)
    if _within(pool["reserved"], int(parsed)):
        raise ValidationError(f"{field}: {parsed} is reserved in pool {pool['name']}", field=field)
    if int(parsed) in _parse_used(used)[parsed.version]:
        holder = used.get(str(parsed)) if isinstance(used, dict) else None
        raise ConflictError(f"{field}: {parsed} is in use by {held_by(holder)}", field=field)
    return pool, str(parsed)


def _used_in(pool, used_ints):
    """Used addresses (sorted ints of the pool's version) in the pool's allocatable space."""
    blocked = _blocked(pool["reserved"], _gateway_int(pool))
    firsts = [span[0] for span in blocked]
    found = []
    for first, last in pool["ranges"]:
        start, end = bisect.bisect_left(used_ints, first), bisect.bisect_right(used_ints, last)
        found.extend(value for value in used_ints[start:end] if not _within(blocked, value, firsts))
    return found


def _gateway_int(pool):
    return int(ipaddress.ip_address(pool["gateway"])) if pool["gateway"] else None


def _first_free(ranges, blocked):
    """The lowest address of `ranges` outside the merged `blocked` spans, or None."""
    lasts = [span[1] for span in blocked]
    for first, last in ranges:
        candidate, index = first, bisect.bisect_left(lasts, first)
        while index < len(blocked) and blocked[index][0] <= candidate:
            candidate, index = blocked[index][1] + 1, index + 1
        if candidate <= last:
            return candidate
    return None


def allocate(pools, attach, cluster, version, used, field, pool_name=None):
    """The lowest free address of the first serving pool of `version` that has one (only pool
    `pool_name` when given): (pool, address text)."""
    if version not in (4, 6):
        raise ValidationError(f"{field}: IP version must be 4 or 6 (got {version!r})", field=field)
    where = _serving_text(attach, cluster)
    candidates = pools_for(pools, attach, cluster, version)
    if pool_name is not None:
        named = [pool for pool in pools if pool["name"] == pool_name]
        if not named:
            raise ValidationError(f"{field}: no IP pool named {pool_name}", field=field)
        if named[0] not in candidates:
            raise ValidationError(f"{field}: pool {pool_name} does not serve IPv{version} on {where}", field=field)
        candidates = named
    if not candidates:
        raise ValidationError(f"{field}: no IPv{version} pool serves {where}", field=field)
    used_ints = _parse_used(used)[version]
    for pool in candidates:
        start = bisect.bisect_left(used_ints, pool["ranges"][0][0]) if pool["ranges"] else 0
        end = bisect.bisect_right(used_ints, pool["ranges"][-1][1]) if pool["ranges"] else 0
        free = _first_free(pool["ranges"], _blocked(pool["reserved"], _gateway_int(pool), used_ints[start:end]))
        if free is not None:
            return pool, _text(version, free)
    full = ", ".join(f"{pool['name']} ({len(_used_in(pool, used_ints))} of {pool['size']} used)"
                     for pool in candidates)
    plural = "pools" if len(candidates) > 1 else "pool"
    raise ConflictError(f"{field}: no free IPv{version} address in {plural} {full}", field=field)


def _attach_view(attach):
    kind, source = _attach_key(attach)
    return {"routed": True} if kind == "routed" else {kind: source}


def usage(pools, used):
    """Per pool: what it is, its size and the used addresses in its allocatable space."""
    used_ints = _parse_used(used)
    report = []
    for pool in pools:
        taken = _used_in(pool, used_ints[pool["version"]])
        report.append({"name": pool["name"], "version": pool["version"], "subnet": pool["subnet"],
                       "gateway": pool["gateway"], "dns": list(pool["dns"]), "attach": _attach_view(pool["attach"]),
                       "cluster": pool["cluster"], "size": pool["size"], "used": len(taken),
                       "free": pool["size"] - len(taken),
                       "addresses": [_text(pool["version"], value) for value in taken]})
    return report


def interface_config(pool, address, field="address"):
    """What a guest's seed needs for a static address from `pool`."""
    parsed = _address(address, field)
    if parsed.version != pool["version"] or not _in_subnet(pool, int(parsed)):
        raise ValidationError(f"{field}: {parsed} is outside subnet {pool['subnet']} of pool {pool['name']}",
                              field=field)
    return {"address": str(parsed), "prefix": pool["prefix"], "gateway": pool["gateway"], "dns": list(pool["dns"]),
            "version": pool["version"]}
