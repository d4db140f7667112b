"""Domain XML build/parse by tables; round trips; libvirt's own rewrite parsed back."""

from __future__ import annotations

import copy

import libvirt
import pytest
from lxml import etree

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    METADATA_NS,
    build_domain_xml,
    next_free_target,
    parse_domain_xml,
)

SPEC = {
    "name": "web1", "uuid": "6f1c1a53-6c0e-4a8f-9d35-3a6e7f0d5b11", "domain_type": "qemu", "machine": "pc",
    "arch": "x86_64", "vcpus": 2, "max_vcpus": 4, "memory_mib": 512, "max_memory_mib": 1024,
    "disks": [
        {"path": "/var/lib/vmm/disks/web1.qcow2", "format": "qcow2", "target": "vda", "bus": "virtio",
         "device": "disk", "readonly": False, "boot_order": 1},
        {"path": "/var/lib/vmm/disks/web1-seed.iso", "format": "raw", "target": "vdb", "bus": "virtio",
         "device": "disk", "readonly": True, "boot_order": None},
    ],
    "interfaces": [
        {"type": "network", "source": "default", "mac": "52:54:00:12:34:56", "model": "virtio"},
        {"type": "bridge", "source": "br0", "mac": None, "model": "e1000"},
    ],
    "graphics": {"type": "vnc", "listen": "127.0.0.1", "port": None, "password": None},
    "serial_log": "/var/log/vmm/console/web1.log",
    "metadata": {"owner": "alice", "image": "debian-12", "created": "2026-11-24T09:00:00Z",
                 "reinstalled": "2026-11-28T16:00:00Z", "snapshot_limit": 3, "adopted": None,
                 "iso": "debian-12-netinst", "rescue": None,
                 "ips": ["198.51.100.20", "2001:db8::20", "192.0.2.5"],
                 "addresses": [
                     {"address": "198.51.100.20", "mac": "52:54:00:12:34:56", "prefix": 24, "version": 4,
                      "pool": "pub-v4", "gateway": "198.51.100.1", "dns": ["198.51.100.53", "2001:db8::53"]},
                     {"address": "2001:db8::20", "mac": "52:54:00:12:34:56", "prefix": 64, "version": 6,
                      "pool": "pub-v6", "gateway": None, "dns": []}],
                 "cluster": "c1", "seed_sha256": "ab" * 32, "ha": True,
                 "managed_disks": ["/var/lib/vmm/disks/web1.qcow2", "/var/lib/vmm/disks/web1-seed.iso"]},
}
NS = {"vmm": METADATA_NS}
ROUTED = {"type": "routed", "source": "203.0.113.5", "gateway": "198.51.100.7", "mac": "52:54:00:12:34:57",
          "model": "virtio"}


def spec(**changes):
    result = copy.deepcopy(SPEC)
    result.update(changes)
    return result


@pytest.mark.parametrize(
    ("changes", "xpath", "expected"),
    [
        ({}, "string(/domain/@type)", "qemu"),
        ({"domain_type": "kvm"}, "string(/domain/cpu/@mode)", "host-passthrough"),
        ({}, "count(/domain/cpu)", 0.0),
        ({}, "string(/domain/memory)", str(1024 * 1024)),
        ({}, "string(/domain/currentMemory)", str(512 * 1024)),
        ({}, "string(/domain/vcpu)", "4"),
        ({}, "string(/domain/vcpu/@current)", "2"),
        ({"max_vcpus": None}, "count(/domain/vcpu/@current)", 0.0),
        ({}, "string(/domain/os/type/@machine)", "pc"),
        ({}, "string(/domain/devices/disk[1]/boot/@order)", "1"),
        ({}, "count(/domain/devices/disk[2]/readonly)", 1.0),
        ({}, "string(/domain/devices/disk[1]/driver/@discard)", "unmap"),
        ({}, "string(/domain/devices/interface[1]/mac/@address)", "52:54:00:12:34:56"),
        ({}, "count(/domain/devices/interface[2]/mac)", 0.0),
        ({}, "string(/domain/devices/interface[2]/source/@bridge)", "br0"),
        ({"interfaces": [ROUTED]}, "string(/domain/devices/interface/@type)", "ethernet"),
        ({"interfaces": [ROUTED]}, "string(/domain/devices/interface/source/ip/@peer)", "203.0.113.5"),
        ({"interfaces": [ROUTED]}, "string(/domain/devices/interface/source/ip/@address)", "198.51.100.7"),
        ({"interfaces": [ROUTED]}, "string(/domain/devices/interface/source/ip/@prefix)", "32"),
        ({}, "string(/domain/devices/serial/log/@file)", "/var/log/vmm/console/web1.log"),
        ({"serial_log": None}, "count(/domain/devices/serial/log)", 0.0),
        ({}, "string(/domain/devices/graphics/@autoport)", "yes"),
        ({"graphics": {"type": "vnc", "listen": "::1", "port": 5905, "password": "pw"}},
         "string(/domain/devices/graphics/@port)", "5905"),
        ({"graphics": {"type": "vnc", "listen": "::1", "port": None, "password": "pw"}},
         "string(/domain/devices/graphics/@passwd)", "pw"),
        ({"graphics": None}, "count(/domain/devices/graphics)", 0.0),
        ({}, "string(/domain/metadata/vmm:vm/vmm:owner)", "alice"),
        ({}, "string(/domain/metadata/vmm:vm/vmm:ha)", "true"),
        ({}, "count(/domain/metadata/vmm:vm/vmm:managed-disks/vmm:disk)", 2.0),
        ({"uuid": None}, "count(/domain/uuid)", 0.0),
    ],
)
def test_build(changes, xpath, expected):
    root = etree.fromstring(build_domain_xml(spec(**changes)).encode())
    assert root.xpath(xpath, namespaces=NS) == expected


def test_round_trip():
    facts = parse_domain_xml(build_domain_xml(SPEC))
    for key in ("name", "uuid", "domain_type", "machine", "arch", "vcpus", "max_vcpus", "memory_mib",
                "max_memory_mib", "serial_log", "metadata", "graphics"):
        assert facts[key] == SPEC[key], key
    assert facts["disks"] == SPEC["disks"]
    assert [{k: n[k] for k in ("type", "source", "mac", "model")} for n in facts["interfaces"]] == SPEC["interfaces"]
    held = [{k: v for k, v in a.items() if k != "mac"} for a in SPEC["metadata"]["addresses"]]
    assert [n["addresses"] for n in facts["interfaces"]] == [held, []]  # each NIC its own, by MAC


@pytest.mark.parametrize("hostile", ["a<b>&c", "'\"", "]]><x/>", "<!-- -->", "&amp;"])
def test_hostile_text_is_escaped_and_read_back(hostile):
    built = build_domain_xml(spec(metadata=dict(SPEC["metadata"], owner=hostile, image=hostile)))
    facts = parse_domain_xml(built)
    assert facts["metadata"]["owner"] == hostile and facts["metadata"]["image"] == hostile
    assert len(etree.fromstring(built.encode()).xpath("/domain/metadata/vmm:vm/*", namespaces=NS)) == 11


def test_foreign_domain_has_empty_metadata():
    facts = parse_domain_xml("<domain type='kvm'><name>x</name><memory unit='GiB'>2</memory><vcpu>3</vcpu>"
                             "<devices/></domain>")
    assert facts["memory_mib"] == 2048 and facts["vcpus"] == 3 and facts["max_vcpus"] == 3
    assert facts["metadata"] == {"owner": None, "image": None, "created": None, "reinstalled": None,
                                 "adopted": None, "iso": None, "rescue": None, "cluster": None, "seed_sha256": None,
                                 "snapshot_limit": None, "ips": [],
                                 "addresses": [], "managed_disks": [], "ha": False}
    assert facts["graphics"] is None and facts["disks"] == [] and facts["interfaces"] == []


def test_libvirt_rewrite_parses_back():
    """libvirt adds addresses, controllers and aliases and changes units: the facts stay the same."""
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(build_domain_xml(spec(uuid=None, name="xml-roundtrip")))
        facts = parse_domain_xml(dom.XMLDesc(0))
        dom.undefine()
    finally:
        conn.close()
    assert facts["metadata"] == SPEC["metadata"]
    assert (facts["vcpus"], facts["max_vcpus"], facts["memory_mib"], facts["max_memory_mib"]) == (2, 4, 512, 1024)
    assert [d["path"] for d in facts["disks"]] == [d["path"] for d in SPEC["disks"]]
    assert facts["interfaces"][0]["mac"] == "52:54:00:12:34:56"
    assert facts["interfaces"][1]["mac"]  # libvirt picked one


@pytest.mark.parametrize(
    ("targets", "bus", "expected"),
    [([], "virtio", "vda"), (["vda", "vdb"], "virtio", "vdc"), (["vda", "vdc"], "virtio", "vdb"),
     (["sda"], "sata", "sdb")],
)
def test_next_free_target(targets, bus, expected):
    assert next_free_target([{"target": t} for t in targets], bus) == expected


def test_routed_nic_round_trip():
    facts = parse_domain_xml(build_domain_xml(spec(interfaces=[ROUTED])))
    assert {k: facts["interfaces"][0][k] for k in ROUTED} == ROUTED


def test_guest_agent_channel_built_and_read():
    built = build_domain_xml(SPEC)
    root = etree.fromstring(built.encode())
    assert root.xpath("/domain/devices/channel[@type='unix']/target/@name") == ["org.qemu.guest_agent.0"]
    assert parse_domain_xml(built)["guest_agent"] == {"channel": True, "connected": False}
    live = built.replace("name=\"org.qemu.guest_agent.0\"", "name=\"org.qemu.guest_agent.0\" state=\"connected\"")
    assert parse_domain_xml(live)["guest_agent"] == {"channel": True, "connected": True}
    disconnected = built.replace("name=\"org.qemu.guest_agent.0\"",
                                 "name=\"org.qemu.guest_agent.0\" state=\"disconnected\"")
    assert parse_domain_xml(disconnected)["guest_agent"]["connected"] is False
    without = parse_domain_xml("<domain type='kvm'><name>x</name><devices/></domain>")
    assert without["guest_agent"] == {"channel": False, "connected": False}


def test_routed_ipv6_is_a_peer_of_the_taps_link_local_address():
    nic = dict(ROUTED, addresses=[{"address": "2001:db8:66::5", "prefix": 128, "version": 6}])
    root = etree.fromstring(build_domain_xml(spec(interfaces=[nic])).encode())
    ips = [(ip.get("family"), ip.get("address"), ip.get("prefix"), ip.get("peer"))
           for ip in root.iterfind("devices/interface/source/ip")]
    assert ips == [(None, "198.51.100.7", "32", "203.0.113.5"), ("ipv6", "fe80::1", "128", "2001:db8:66::5")]
    parsed = parse_domain_xml(build_domain_xml(spec(interfaces=[nic])))["interfaces"][0]
    assert (parsed["type"], parsed["source"], parsed["gateway"]) == ("routed", "203.0.113.5", "198.51.100.7")
