# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure translation of `vmm.cloud.vm` options into a domain spec, and back.

`normalize_request(params)` validates what the user asked for; `new_spec` and
`updated_spec` turn a request into the spec dict that `domain_xml` builds;
`managed_view` is the comparable picture of a VM used for changes and diffs.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.vmm.cloud.plugins.module_utils.data_disks import check_disks, current_data_disks
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import ROUTED_IPV6_GATEWAY
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.nwfilter import nic_filter
from ansible_collections.vmm.cloud.plugins.module_utils.validate import (
    check_hostname,
    check_listen_address,
    check_mac,
    check_name,
    check_positive_int,
    check_ssh_key,
)

GIB = 1024 ** 3
NIC_MODELS = ("virtio", "e1000", "rtl8139")
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def _network(index, nic):
    field = f"networks[{index}]"
    given = [key for key in ("network", "bridge", "routed") if nic.get(key)]
    if len(given) != 1:
        raise ValidationError(f"{field}: give exactly one of network, bridge or routed", field=field)
    if given[0] == "network":
        kind, source = "network", check_name(nic["network"], field=f"{field}.network")
    elif given[0] == "routed":
        kind = "routed"
        source = "auto" if nic["routed"] == "auto" else _routed_address(nic["routed"], f"{field}.routed")
    else:
        kind, source = "bridge", nic["bridge"]
        if not isinstance(source, str) or not _BRIDGE_RE.fullmatch(source):
            raise ValidationError(f"{field}.bridge: not a valid interface name: {source!r}", field=f"{field}.bridge")
    model = nic.get("model") or "virtio"
    if model not in NIC_MODELS:
        raise ValidationError(f"{field}.model: must be one of {', '.join(NIC_MODELS)}", field=f"{field}.model")
    mac = check_mac(nic["mac"], field=f"{field}.mac") if nic.get("mac") else None
    wanted = {"type": kind, "source": source, "mac": mac, "model": model,
              "ipv4": _wanted_address(nic.get("ipv4"), 4, f"{field}.ipv4"),
              "ipv6": _wanted_address(nic.get("ipv6"), 6, f"{field}.ipv6")}
    if kind == "routed" and source != "auto":
        if wanted["ipv4"] not in (None, "auto", source):
            raise ValidationError(f"{field}.ipv4: differs from the routed address {source}; give one of them",
                                  field=f"{field}.ipv4")
        wanted["ipv4"] = source
    elif kind == "routed":
        if wanted["ipv4"] == "none":
            raise ValidationError(f"{field}.ipv4: a routed NIC needs its IPv4 address (auto or one)",
                                  field=f"{field}.ipv4")
        wanted["ipv4"] = wanted["ipv4"] or "auto"
    return wanted


def _wanted_address(value, version, field):
    """None (the VM keeps what it holds; a new one gets `auto` where a pool serves the NIC), `auto`, `none`
    (no static address of that version: DHCP for IPv4) or one address."""
    if value is None or value in ("auto", "none"):
        return value
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field}: must be auto, none or an IPv{version} address (got {value!r})",
                              field=field) from None
    if address.version != version:
        raise ValidationError(f"{field}: {address} is not an IPv{version} address", field=field)
    return str(address)


def _routed_address(value, field):
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        raise ValidationError(f"{field}: not an IP address: {value!r}", field=field) from None
    if address.version != 4:
        raise ValidationError(f"{field}: routed takes the NIC's IPv4 address, or auto (its IPv6 goes in ipv6)",
                              field=field)
    if address.is_unspecified or address.is_multicast or address.is_loopback:
        raise ValidationError(f"{field}: {address} cannot be a VM's address", field=field)
    return str(address)


def random_mac():
    """A locally administered MAC in QEMU's 52:54:00 range, as libvirt would give."""
    return "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))


def _static_entry(entry, held, ipv4_default):
    """A NIC's pool addresses: static, with the pool's gateway and DNS; DHCP for IPv4 when it holds none.
    `ipv4_default`: whether the NIC may take the IPv4 default route (no earlier NIC has taken it)."""
    entry["addresses"] = [f"{a['address']}/{a['prefix']}" for a in held]
    for version, key in ((4, "gateway4"), (6, "gateway6")):
        gateway = next((a["gateway"] for a in held if a["version"] == version and a.get("gateway")), None)
        if gateway and (version == 6 or ipv4_default):
            entry[key] = gateway
    if not any(a["version"] == 4 for a in held):
        entry["dhcp4"] = True
    dns = []
    for a in held:
        dns.extend(d for d in a.get("dns") or [] if d not in dns)
    if dns:
        entry["nameservers"] = {"addresses": dns}


def seed_network_config(interfaces):
    """The seed's network-config (v2) for NICs with pinned MACs: each matched by its MAC and named ethN
    (ENI, systemd-networkd and netplan renderers all take this); DHCP, the static addresses it holds from
    IP pools, or a static /32 with its gateway for a routed NIC.
    The IPv4 default route goes through the first NIC that has one (DHCP counts: its network may hand out a
    router): a later NIC's pool gateway is left out, as ifupdown fails on a second default route (`RTNETLINK
    answers: File exists`) and then leaves the rest of that NIC, its IPv6 included, unconfigured."""
    ethernets = {}
    default_taken = False  # the IPv4 default route, by an earlier NIC
    for index, nic in enumerate(interfaces):
        entry = {"match": {"macaddress": nic["mac"]}, "set-name": f"eth{index}"}
        if nic.get("addresses") and nic["type"] != "routed":
            _static_entry(entry, nic["addresses"], ipv4_default=not default_taken)
        elif nic["type"] == "routed":
            # The gateway is outside the /32. gateway4: ifupdown adds it `onlink`; a route with on-link
            # would lose it in cloud-init's ENI output. The link route to the gateway: systemd-networkd
            # (whose Gateway= cloud-init writes without GatewayOnLink) reaches the gateway through it;
            # ENI turns it into a net-tools line that may fail, harmlessly (`|| true`).
            entry.update(addresses=[f"{nic['source']}/32"], gateway4=nic["gateway"],
                         routes=[{"to": f"{nic['gateway']}/32", "via": "0.0.0.0", "scope": "link"}])
            v6 = [a["address"] for a in nic.get("addresses") or [] if a["version"] == 6]
            if v6:  # each a /128; the node's tap answers as fe80::1, a gateway on the link by being link-local
                entry["addresses"] += [f"{address}/128" for address in v6]
                entry["gateway6"] = ROUTED_IPV6_GATEWAY
        else:
            entry["dhcp4"] = True
        ethernets[f"eth{index}"] = entry
        default_taken = default_taken or bool(entry.get("gateway4") or entry.get("dhcp4"))
    return {"version": 2, "ethernets": ethernets}


def with_seed_network(request, current_interfaces=()):
    """The request with every NIC's MAC pinned (the one it has, else a new one) and, unless the user
    gave a network_config of their own, the seed's network-config made for those NICs."""
    request = dict(request)
    if request["interfaces"] is not None:
        request["interfaces"] = [
            dict(nic, mac=nic["mac"] or (current_interfaces[i]["mac"] if i < len(current_interfaces) else None)
                 or random_mac()) for i, nic in enumerate(request["interfaces"])]
    cloud_init = request["cloud_init"]
    if cloud_init is not None and not cloud_init.get("network_config"):
        nics = request["interfaces"] if request["interfaces"] is not None else current_interfaces
        request["cloud_init"] = dict(cloud_init, network_config=seed_network_config(nics))
    return request


def _cloud_init(name, cloud_init):
    cloud_init = dict(cloud_init or {})
    default = name.replace("_", "-").strip("-.")  # a VM name may end in '_' or '-', a host name may not
    cloud_init["hostname"] = check_hostname(cloud_init.get("hostname") or default,
                                            field="cloud_init.hostname")
    keys = cloud_init.get("ssh_authorized_keys") or []
    cloud_init["ssh_authorized_keys"] = [check_ssh_key(k, field=f"cloud_init.ssh_authorized_keys[{i}]")
                                         for i, k in enumerate(keys)]
    for key in ("network_config", "user_data"):
        if cloud_init.get(key) is not None and not isinstance(cloud_init[key], dict):
            raise ValidationError(f"cloud_init.{key}: must be a mapping", field=f"cloud_init.{key}")
    return cloud_init


def default_cloud_init(name):
    """The seed settings of a new VM given none: its hostname from its name."""
    return _cloud_init(name, {})


def _console(console):
    console = dict(console or {})
    kind = console.get("type") or "vnc"
    if kind == "none":
        return None
    if kind != "vnc":
        raise ValidationError("console.type: must be vnc or none", field="console.type")
    listen = check_listen_address(console.get("listen") or "127.0.0.1", field="console.listen")
    return {"type": "vnc", "listen": listen, "port": None, "password": console.get("password")}


def static_ips(network_config):
    """Addresses written into a netplan v2 network_config, without prefix."""
    ips = []
    for nic in ((network_config or {}).get("ethernets") or {}).values():
        for address in nic.get("addresses") or []:
            ips.append(str(address).split("/", maxsplit=1)[0])
    return ips


def _optional_int(params, key, minimum=1, maximum=None):
    if params.get(key) is None:
        return None
    return check_positive_int(params[key], key, minimum=minimum, maximum=maximum)


STATES = ("present", "running", "stopped", "restarted", "reinstalled", "absent")
CLONE_MODES = ("overlay", "full")
DOMAIN_TYPES = ("auto", "kvm", "qemu")


def _choice(params, key, choices, default):
    value = params.get(key) or default
    if value not in choices:
        raise ValidationError(f"{key}: must be one of {', '.join(choices)} (got {value!r})", field=key)
    return value


def _operation(params):
    """How the run goes, beside what the VM is: the state, where the disk comes from, how long to wait."""
    return {
        "state": _choice(params, "state", STATES, "present"),
        "image": params.get("image") or None,
        "clone": _choice(params, "clone", CLONE_MODES, "overlay"),
        "pool": check_name(params.get("pool") or "vmm", field="pool"),
        "machine": check_name(params.get("machine") or "pc", field="machine"),
        "domain_type": _choice(params, "domain_type", DOMAIN_TYPES, "auto"),
        "keep_owner": bool(params.get("keep_owner")),
        "anti_spoofing": params.get("anti_spoofing", True) is not False,
        "shutdown_timeout": check_positive_int(params.get("shutdown_timeout", 120), "shutdown_timeout", minimum=0),
        "wait_for_ip": bool(params.get("wait_for_ip")),
        "wait_timeout": check_positive_int(params.get("wait_timeout", 60), "wait_timeout"),
    }


def normalize_request(params):
    """Validated copy of the module options, the one thing the VM service reads; errors name the field.

    Options of the VM left unset stay None: an existing VM keeps what it has, and
    `with_create_defaults` fills them in for a new one.
    """
    name = check_name(params["name"])
    vcpus = _optional_int(params, "vcpus", maximum=512)
    memory = _optional_int(params, "memory", minimum=16)
    request = {
        "name": name,
        "vcpus": vcpus,
        "max_vcpus": _optional_int(params, "max_vcpus", minimum=vcpus or 1, maximum=512),
        "memory_mib": memory,
        "max_memory_mib": _optional_int(params, "max_memory", minimum=memory or 16),
        "disk_size_bytes": None,
        "interfaces": None,
        "graphics": _console(params["console"]) if params.get("console") is not None else False,
        "cloud_init": _cloud_init(name, params["cloud_init"]) if params.get("cloud_init") is not None else None,
        "owner": check_name(params["owner"], field="owner") if params.get("owner") else None,
        "cluster": check_name(params["cluster"], field="cluster") if params.get("cluster") else None,
        "ha": params.get("ha"),
        "autostart": params.get("autostart"),
        "snapshot_limit": _optional_int(params, "snapshot_limit", minimum=0, maximum=1000),
        "disks": check_disks(params["disks"]) if params.get("disks") is not None else None,
        "iso": check_name(params["iso"], field="iso") if params.get("iso") else params.get("iso"),
        "rescue": params.get("rescue"),
        "rescue_image": check_name(params["rescue_image"], field="rescue_image")
        if params.get("rescue_image") else None,
    }
    if request["rescue"] and not request["rescue_image"]:
        raise ValidationError("rescue_image: required to put a VM in rescue mode (an ISO image of the store)",
                              field="rescue_image")
    request.update(_operation(params))
    if params.get("networks") is not None:
        request["interfaces"] = [_network(i, nic) for i, nic in enumerate(params["networks"])]
    if params.get("disk_size") is not None:
        request["disk_size_bytes"] = check_positive_int(params["disk_size"], "disk_size", maximum=65536) * GIB
    return request


def with_create_defaults(request):
    """The request with what a new VM gets when an option is unset."""
    request = dict(request)
    request["vcpus"] = request["vcpus"] or 1
    request["memory_mib"] = request["memory_mib"] or 512
    request["max_vcpus"] = max(request["max_vcpus"] or 0, request["vcpus"])
    request["max_memory_mib"] = max(request["max_memory_mib"] or 0, request["memory_mib"])
    if request["interfaces"] is None:
        request["interfaces"] = [_network(0, {"network": "default"})]
    if request["graphics"] is False:
        request["graphics"] = _console({})
    if request["cloud_init"] is None:
        request["cloud_init"] = _cloud_init(request["name"], {})
    request["ha"] = bool(request["ha"])
    request["autostart"] = bool(request["autostart"])
    return request


def filtered(interfaces, anti_spoofing):
    """The NICs, each bound to the anti-spoofing filter its pool addresses call for (nwfilter.py), or to none."""
    return [dict(nic, filter=nic_filter(nic) if anti_spoofing else None) for nic in interfaces]


def held_addresses(interfaces):
    """The pool addresses the NICs hold, each with its NIC's MAC: what the VM's metadata records."""
    return [dict(held, mac=nic["mac"]) for nic in interfaces for held in nic.get("addresses") or []]


def _record_ips(interfaces, network_config):
    ips = [held["address"] for held in held_addresses(interfaces)]
    return ips + [ip for ip in static_ips(network_config) if ip not in ips]


def ips_with_pool_addresses(meta, interfaces):
    """The metadata's `ips` once the NICs hold `interfaces`' pool addresses: those, then the VM's other addresses
    (a network_config of the user's own) as recorded."""
    pooled = {held["address"] for held in meta.get("addresses") or []}
    return _record_ips(interfaces, None) + [ip for ip in meta["ips"] if ip not in pooled]


def new_spec(request, *, uuid, domain_type, machine, disks, serial_log, image, created, seed_sha256):
    meta = {"owner": request["owner"], "image": image, "created": created, "cluster": request["cluster"],
            "ips": _record_ips(request["interfaces"], request["cloud_init"].get("network_config")),
            "addresses": held_addresses(request["interfaces"]), "seed_sha256": seed_sha256,
            "ha": request["ha"], "managed_disks": [d["path"] for d in disks if d.get("managed")],
            "snapshot_limit": request["snapshot_limit"]}
    return {
        "name": request["name"], "uuid": uuid, "domain_type": domain_type, "machine": machine, "arch": "x86_64",
        "vcpus": request["vcpus"], "max_vcpus": request["max_vcpus"],
        "memory_mib": request["memory_mib"], "max_memory_mib": request["max_memory_mib"],
        "disks": [{k: v for k, v in d.items() if k != "managed"} for d in disks],
        "interfaces": filtered(request["interfaces"], request["anti_spoofing"]),
        "graphics": request["graphics"], "serial_log": serial_log, "metadata": meta,
    }


def _keep(value, current):
    return current if value is None else value


def updated_spec(current, request, *, domain_type, seed_sha256):
    """`current` (parsed facts of the defined VM) changed as `request` asks.

    Unset options keep the current value. `request` has gone through
    with_seed_network: MACs the user did not pin keep the address the VM has,
    so a VM keeps its MAC (and its DHCP lease).
    """
    spec = {key: current[key] for key in ("name", "uuid", "machine", "arch", "disks", "serial_log")}
    vcpus = _keep(request["vcpus"], current["vcpus"])
    memory = _keep(request["memory_mib"], current["memory_mib"])
    nics = current["interfaces"]
    if request["interfaces"] is not None:  # MACs are pinned: with_seed_network
        nics = filtered(request["interfaces"], request["anti_spoofing"])
    graphics = current.get("graphics") if request["graphics"] is False else request["graphics"]
    meta = dict(current["metadata"], seed_sha256=seed_sha256 or current["metadata"].get("seed_sha256"),
                owner=_keep(request["owner"], current["metadata"].get("owner")),
                cluster=_keep(request["cluster"], current["metadata"].get("cluster")),
                ha=_keep(request["ha"], current["metadata"].get("ha")),
                snapshot_limit=_keep(request["snapshot_limit"], current["metadata"].get("snapshot_limit")))
    if request["cloud_init"] is not None:
        meta["ips"] = _record_ips(nics, request["cloud_init"].get("network_config"))
    elif request["interfaces"] is not None:
        meta["ips"] = ips_with_pool_addresses(current["metadata"], nics)
    meta["addresses"] = held_addresses(nics)
    spec.update(domain_type=domain_type or current["domain_type"], vcpus=vcpus,
                max_vcpus=max(request["max_vcpus"] or current["max_vcpus"], vcpus), memory_mib=memory,
                max_memory_mib=max(request["max_memory_mib"] or current["max_memory_mib"], memory),
                interfaces=nics, graphics=graphics, metadata=meta)
    return spec


def managed_seed_path(facts):
    """The VM's cloud-init seed disk, which vmm made."""
    for disk in facts["disks"]:
        if disk["readonly"] and disk["path"] in facts["metadata"]["managed_disks"]:
            return disk["path"]
    raise ConflictError(f"name: VM {facts['name']} has no seed disk managed by vmm", field="name")


def _console_view(graphics):
    if not graphics:
        return None
    return {"type": graphics["type"], "listen": graphics.get("listen"), "password_set": bool(graphics.get("password"))}


def managed_view(facts):
    """The part of a VM that vmm.cloud.vm manages, in a comparable shape."""
    graphics = facts.get("graphics")
    return {
        "domain_type": facts["domain_type"],
        "vcpus": facts["vcpus"],
        "max_vcpus": facts["max_vcpus"],
        "memory": facts["memory_mib"],
        "max_memory": facts["max_memory_mib"],
        "interfaces": [dict({k: nic.get(k) for k in ("type", "source", "mac", "model")},
                            addresses=[f"{a['address']}/{a['prefix']}" for a in nic.get("addresses") or []],
                            filter=(nic.get("filter") or {}).get("name"))
                       for nic in facts["interfaces"]],
        "console": _console_view(graphics),
        "owner": facts["metadata"].get("owner"),
        "cluster": facts["metadata"].get("cluster"),
        "ha": bool(facts["metadata"].get("ha")),
        "ips": list(facts["metadata"].get("ips") or []),
        "seed_sha256": facts["metadata"].get("seed_sha256"),
        "snapshot_limit": facts["metadata"].get("snapshot_limit"),
        "data_disks": sorted(current_data_disks(facts)),
        "iso": facts["metadata"].get("iso"),
        "rescue": facts["metadata"].get("rescue"),
    }


def view_changes(before, after):
    """Names of the managed fields that differ (pinned-free MACs compare as equal)."""
    changed = []
    for key in after:
        if key == "interfaces":
            if _nics_differ(before[key], after[key]):
                changed.append(key)
        elif before.get(key) != after[key]:
            changed.append(key)
    return changed


def _nics_differ(before, after):
    if len(before) != len(after):
        return True
    for old, new in zip(before, after):
        if any(old[k] != new[k] for k in ("type", "source", "model", "addresses", "filter")):
            return True
        if new["mac"] and old["mac"] != new["mac"]:
            return True
    return False
