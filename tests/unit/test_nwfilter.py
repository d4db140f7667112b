"""Which anti-spoofing filter a NIC gets, and how it reads in the domain XML."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import (
    build_domain_xml,
    interface_with_filter,
    parse_domain_xml,
)
from ansible_collections.vmm.cloud.plugins.module_utils.nwfilter import _canonical, nic_filter

V4 = {"address": "192.0.2.10", "prefix": 24, "version": 4}
V4B = {"address": "192.0.2.11", "prefix": 24, "version": 4}
V6 = {"address": "2001:db8::10", "prefix": 64, "version": 6}


@pytest.mark.parametrize(("nic", "wanted"), [
    ({"type": "network", "addresses": []}, None),
    ({"type": "network"}, None),
    ({"type": "routed", "addresses": [V4]}, None),
    ({"type": "network", "addresses": [V4, V4B]},
     {"name": "clean-traffic", "parameters": [("IP", "192.0.2.10"), ("IP", "192.0.2.11")]}),
    ({"type": "bridge", "addresses": [V4, V6]},
     {"name": "vmm-clean-traffic", "parameters": [("IP", "192.0.2.10"), ("IPV6", "2001:db8::10")]}),
    ({"type": "bridge", "addresses": [V6]},
     {"name": "vmm-clean-traffic", "parameters": [("CTRL_IP_LEARNING", "dhcp"), ("IPV6", "2001:db8::10")]}),
])
def test_the_filter_follows_the_addresses(nic, wanted):
    assert nic_filter(nic) == wanted


def test_the_filterref_round_trips():
    nic = {"type": "bridge", "source": "br0", "mac": "52:54:00:00:00:01", "model": "virtio",
           "filter": nic_filter({"type": "bridge", "addresses": [V4, V6]})}
    spec = {"name": "f", "domain_type": "qemu", "vcpus": 1, "memory_mib": 128, "interfaces": [nic]}
    xml = build_domain_xml(spec)
    assert "<filterref filter=\"vmm-clean-traffic\">" in xml and "<parameter name=\"IPV6\"" in xml
    assert parse_domain_xml(xml)["interfaces"][0]["filter"] == nic["filter"]


def test_a_filter_compares_without_what_libvirt_adds():
    ours = "<filter name='x' chain='root'>\n  <filterref filter='a'/>\n</filter>"
    dumped = "<filter name='x' chain='root'>\n  <uuid>1b05a847-d229-4e04-b8b5-872961dd19b7</uuid>\n" \
             "  <filterref filter='a'/>\n</filter>\n"
    assert _canonical(ours) == _canonical(dumped)
    assert _canonical(ours) != _canonical(ours.replace("'a'", "'b'"))


def test_a_live_interface_gets_its_filter_replaced_and_nothing_else():
    live = ("<domain><devices><interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/>"
            "<target dev='vnet3'/><filterref filter='clean-traffic'><parameter name='IP' value='192.0.2.10'/>"
            "</filterref></interface><interface type='network'><mac address='52:54:00:00:00:02'/></interface>"
            "</devices></domain>")
    wanted = nic_filter({"type": "network", "addresses": [V4, V4B]})
    xml = interface_with_filter(live, "52:54:00:00:00:01", wanted)
    assert "<target dev=\"vnet3\"/>" in xml and xml.count("<filterref") == 1 and "192.0.2.11" in xml
    assert "52:54:00:00:00:02" not in xml
    assert "<filterref" not in interface_with_filter(live, "52:54:00:00:00:01", None)
    assert interface_with_filter(live, "52:54:00:00:00:09", wanted) is None
