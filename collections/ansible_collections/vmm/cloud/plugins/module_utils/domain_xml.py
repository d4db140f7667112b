# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain XML: spec dict in, XML out; XML in, facts dict out. Pure, lxml only.

All text goes in through lxml, never string formatting, so no value can
inject XML. `parse_domain_xml(build_domain_xml(spec))` gives the spec back for
every managed field, and parsing tolerates all libvirt adds (addresses,
controllers, aliases, live ports).
"""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by module_runner.require_libraries()
    etree = None

METADATA_NS = "https://vmm.dev/xmlns/vm/1.0"
_M = f"{{{METADATA_NS}}}"
_META_TEXT = ("owner", "image", "created", "reinstalled", "adopted", "cluster", "seed-sha256", "snapshot-limit",
              "iso", "rescue")
_MEMORY_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024 ** 2, "mib": 1024 ** 2,
                 "mb": 1000 ** 2, "g": 1024 ** 3, "gib": 1024 ** 3, "gb": 1000 ** 3}
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
ROUTED_IPV6_GATEWAY = "fe80::1"  # the host side of every routed tap: the guests' IPv6 gateway, on the link


def _sub(parent, tag, text=None, **attrs):
    element = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = str(text)
    return element


# --- build ---------------------------------------------------------------


def _metadata(parent, meta):
    _sub(parent, "metadata").append(_metadata_element(meta))


def metadata_element_xml(meta):
    """vmm's <vm> metadata element alone, for libvirt's setMetadata (an adoption). Its namespace is the default
    one: libvirt declares the `vmm` prefix on the element itself and fails when it is declared already."""
    return etree.tostring(_metadata_element(meta, prefix=None), encoding="unicode")


def _metadata_element(meta, prefix="vmm"):
    holder = etree.Element(_M + "vm", nsmap={prefix: METADATA_NS})
    for key in _META_TEXT:
        value = meta.get(key.replace("-", "_"))
        if value is not None:
            _sub(holder, _M + key, value)
    ips = _sub(holder, _M + "ips")
    for held in meta.get("addresses") or []:  # pool addresses: which NIC holds each, and how the guest is told
        _sub(ips, _M + "ip", held["address"], mac=held["mac"], prefix=held["prefix"], pool=held.get("pool"),
             gateway=held.get("gateway"), dns=" ".join(held.get("dns") or []) or None)
    pooled = {held["address"] for held in meta.get("addresses") or []}
    for ip in meta.get("ips") or []:
        if ip not in pooled:
            _sub(ips, _M + "ip", ip)
    disks = _sub(holder, _M + "managed-disks")
    for path in meta.get("managed_disks") or []:
        _sub(disks, _M + "disk", path)
    _sub(holder, _M + "ha", "true" if meta.get("ha") else "false")
    return holder


def _disk(devices, disk):
    block = disk["path"].startswith("/dev/")  # an LVM volume or a disk: an adopted VM's, or the lvm pool's
    element = _sub(devices, "disk", type="block" if block else "file", device=disk.get("device") or "disk")
    driver = _sub(element, "driver", name="qemu", type=disk["format"])
    if disk["format"] == "qcow2":
        driver.set("discard", "unmap")
    _sub(element, "source", **{"dev" if block else "file": disk["path"]})
    _sub(element, "target", dev=disk["target"], bus=disk.get("bus") or "virtio")
    if disk.get("readonly"):
        _sub(element, "readonly")
    if disk.get("boot_order"):
        _sub(element, "boot", order=disk["boot_order"])


def disk_device_xml(disk):
    """One <disk> device, as build_domain_xml writes it: what a live attach or detach takes."""
    holder = etree.Element("devices")
    _disk(holder, disk)
    return etree.tostring(holder[0], encoding="unicode")


def _interface(devices, nic):
    routed = nic["type"] == "routed"
    element = _sub(devices, "interface", type="ethernet" if routed else nic["type"])
    if nic.get("mac"):
        _sub(element, "mac", address=nic["mac"])
    if routed:
        # The host side of the tap gets the node's address with the VM's as its
        # peer: the kernel then routes the VM's /32 to this tap (routed mode).
        source = _sub(element, "source")
        _sub(source, "ip", address=nic["gateway"], prefix=32, peer=nic["source"])
        for held in nic.get("addresses") or []:
            if held["version"] == 6:  # the tap's fe80::1 with the VM's address as peer: a /128 route to it
                _sub(source, "ip", family="ipv6", address=ROUTED_IPV6_GATEWAY, prefix=128, peer=held["address"])
    else:
        _sub(element, "source", **{nic["type"]: nic["source"]})
    _sub(element, "model", type=nic.get("model") or "virtio")
    if nic.get("filter"):
        filterref = _sub(element, "filterref", filter=nic["filter"]["name"])
        for name, value in nic["filter"]["parameters"]:
            _sub(filterref, "parameter", name=name, value=value)


def _consoles(devices, serial_log):
    serial = _sub(devices, "serial", type="pty")
    if serial_log:
        _sub(serial, "log", file=serial_log, append="off")
    _sub(serial, "target", port=0)
    _sub(_sub(devices, "console", type="pty"), "target", type="serial", port=0)


def _guest_agent(devices):
    """The virtio-serial channel of the QEMU guest agent (libvirt picks the socket's path)."""
    _sub(_sub(devices, "channel", type="unix"), "target", type="virtio", name=GUEST_AGENT_CHANNEL)


def _graphics(devices, graphics):
    port = graphics.get("port")
    element = _sub(devices, "graphics", type=graphics.get("type") or "vnc", port=port or -1,
                   autoport="no" if port else "yes", listen=graphics.get("listen"),
                   passwd=graphics.get("password"))
    if graphics.get("listen"):
        _sub(element, "listen", type="address", address=graphics["listen"])
    _sub(_sub(devices, "video"), "model", type="vga")


def build_domain_xml(spec):
    root = etree.Element("domain", type=spec["domain_type"])
    _sub(root, "name", spec["name"])
    if spec.get("uuid"):
        _sub(root, "uuid", spec["uuid"])
    _metadata(root, spec.get("metadata") or {})
    max_memory = spec.get("max_memory_mib") or spec["memory_mib"]
    _sub(root, "memory", max_memory * 1024, unit="KiB")
    _sub(root, "currentMemory", spec["memory_mib"] * 1024, unit="KiB")
    max_vcpus = spec.get("max_vcpus") or spec["vcpus"]
    _sub(root, "vcpu", max_vcpus, placement="static", current=spec["vcpus"] if max_vcpus > spec["vcpus"] else None)
    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm", arch=spec.get("arch") or "x86_64", machine=spec.get("machine") or "pc")
    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if spec["domain_type"] == "kvm":
        _sub(root, "cpu", mode="host-passthrough")
    _sub(root, "clock", offset="utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        _sub(root, event, action)
    devices = _sub(root, "devices")
    for disk in spec.get("disks") or []:
        _disk(devices, disk)
    for nic in spec.get("interfaces") or []:
        _interface(devices, nic)
    _consoles(devices, spec.get("serial_log"))
    _guest_agent(devices)
    if spec.get("graphics"):
        _graphics(devices, spec["graphics"])
    _sub(devices, "memballoon", model="virtio")
    _sub(_sub(devices, "rng", model="virtio"), "backend", "/dev/urandom", model="random")
    return etree.tostring(root, pretty_print=True, encoding="unicode")


# --- parse ---------------------------------------------------------------


def _mib(element):
    if element is None or not (element.text or "").strip():
        return None
    unit = (element.get("unit") or "KiB").lower()
    return int(element.text.strip()) * _MEMORY_UNITS.get(unit, 1024) // (1024 ** 2)


def _parse_metadata(root):
    holder = root.find(f"metadata/{_M}vm")
    meta = {key.replace("-", "_"): None for key in _META_TEXT}
    meta.update(ips=[], addresses=[], managed_disks=[], ha=False)
    if holder is None:
        return meta
    for key in _META_TEXT:
        text = holder.findtext(_M + key)
        meta[key.replace("-", "_")] = text if text else None
    meta["ips"] = [ip.text for ip in holder.iterfind(f"{_M}ips/{_M}ip") if ip.text]
    meta["addresses"] = [_parse_held(ip) for ip in holder.iterfind(f"{_M}ips/{_M}ip") if ip.text and ip.get("mac")]
    meta["managed_disks"] = [d.text for d in holder.iterfind(f"{_M}managed-disks/{_M}disk") if d.text]
    meta["ha"] = holder.findtext(_M + "ha") == "true"
    limit = meta["snapshot_limit"]
    meta["snapshot_limit"] = int(limit) if limit and limit.isdigit() else None
    return meta


def _parse_held(element):
    address = element.text.strip()
    return {"address": address, "mac": element.get("mac").lower(), "prefix": int(element.get("prefix") or 0),
            "version": 6 if ":" in address else 4, "pool": element.get("pool"), "gateway": element.get("gateway"),
            "dns": (element.get("dns") or "").split()}


def _parse_disk(element):
    driver, source, target = element.find("driver"), element.find("source"), element.find("target")
    boot = element.find("boot")
    path = None
    if source is not None:
        path = source.get("file") or source.get("dev") or source.get("volume")
    return {
        "path": path,
        "format": driver.get("type") if driver is not None else None,
        "target": target.get("dev") if target is not None else None,
        "bus": target.get("bus") if target is not None else None,
        "device": element.get("device") or "disk",
        "readonly": element.find("readonly") is not None,
        "boot_order": int(boot.get("order")) if boot is not None and boot.get("order") else None,
    }


def parse_interface(element):
    kind = element.get("type")
    source, mac = element.find("source"), element.find("mac")
    model, target = element.find("model"), element.find("target")
    peer = next((ip for ip in element.iterfind("source/ip[@peer]") if ip.get("family") != "ipv6"), None)
    gateway = None
    if kind == "ethernet" and peer is not None:
        kind, source, gateway = "routed", None, peer.get("address")
    return {
        "type": kind,
        "source": peer.get("peer").split("/")[0] if gateway else (source.get(kind) if source is not None else None),
        "gateway": gateway,
        "mac": mac.get("address").lower() if mac is not None and mac.get("address") else None,
        "model": model.get("type") if model is not None else None,
        "target_dev": target.get("dev") if target is not None else None,
        "filter": _parse_filterref(element.find("filterref")),
    }


def _parse_filterref(element):
    if element is None:
        return None
    return {"name": element.get("filter"),
            "parameters": [(p.get("name"), p.get("value")) for p in element.iterfind("parameter")]}


def _parse_graphics(devices):
    element = devices.find("graphics") if devices is not None else None
    if element is None:
        return None
    listen = element.get("listen")
    listen_el = element.find("listen[@type='address']")
    if listen_el is not None and listen_el.get("address"):
        listen = listen_el.get("address")
    port = element.get("port")
    port = int(port) if port and port.lstrip("-").isdigit() and int(port) > 0 else None
    return {"type": element.get("type"), "listen": listen, "port": port, "password": element.get("passwd")}


def _parse_guest_agent(root):
    """{"channel": defined, "connected": an agent answers on it (live XML only)}."""
    for target in root.iterfind("devices/channel/target"):
        if target.get("name") == GUEST_AGENT_CHANNEL:
            return {"channel": True, "connected": target.get("state") == "connected"}
    return {"channel": False, "connected": False}


def parse_domain_xml(xml):
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    devices = root.find("devices")
    vcpu = root.find("vcpu")
    max_vcpus = int(vcpu.text.strip()) if vcpu is not None else 1
    memory = _mib(root.find("memory"))
    os_type = root.find("os/type")
    serial_log = root.find("devices/serial/log")
    meta = _parse_metadata(root)
    interfaces = [parse_interface(i) for i in root.iterfind("devices/interface")]
    for nic in interfaces:
        nic["addresses"] = [{k: v for k, v in held.items() if k != "mac"} for held in meta["addresses"]
                            if held["mac"] == nic["mac"]]
    return {
        "name": root.findtext("name"),
        "uuid": root.findtext("uuid"),
        "domain_type": root.get("type"),
        "machine": os_type.get("machine") if os_type is not None else None,
        "arch": os_type.get("arch") if os_type is not None else None,
        "vcpus": int(vcpu.get("current")) if vcpu is not None and vcpu.get("current") else max_vcpus,
        "max_vcpus": max_vcpus,
        "memory_mib": _mib(root.find("currentMemory")) or memory,
        "max_memory_mib": memory,
        "disks": [_parse_disk(d) for d in root.iterfind("devices/disk")],
        "interfaces": interfaces,
        "graphics": _parse_graphics(devices),
        "serial_log": serial_log.get("file") if serial_log is not None else None,
        "guest_agent": _parse_guest_agent(root),
        "metadata": meta,
    }


def interface_with_filter(xml, mac, nic_filter):
    """The <interface> of the NIC with `mac` in a (live) domain XML, its filterref replaced by `nic_filter`
    (None: removed), for a live device update; None when no NIC has that MAC."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    for element in root.iterfind("devices/interface"):
        found = element.find("mac")
        if found is None or (found.get("address") or "").lower() != mac:
            continue
        for old in element.findall("filterref"):
            element.remove(old)
        if nic_filter:
            filterref = _sub(element, "filterref", filter=nic_filter["name"])
            for name, value in nic_filter["parameters"]:
                _sub(filterref, "parameter", name=name, value=value)
        return etree.tostring(element, encoding="unicode")
    return None


def next_free_target(disks, bus="virtio"):
    """The first free device name on `bus` (vda, vdb, ... for virtio; sda, ... otherwise)."""
    prefix = "vd" if bus == "virtio" else "sd"
    used = {d.get("target") for d in disks}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if prefix + letter not in used:
            return prefix + letter
    raise ValueError("no free disk target left")
