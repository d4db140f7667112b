"""The uplink bridge plan by table: state from `ip -j` in, argv lists out."""

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.uplink_bridge import plan

MAC = "02:fc:00:00:00:01"
ADDR4 = {"family": "inet", "local": "203.0.113.10", "prefixlen": 24, "scope": "global"}
ADDR6 = {"family": "inet6", "local": "2001:db8::10", "prefixlen": 64, "scope": "global"}
LINKLOCAL = {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}
DEFAULT4 = {"dst": "default", "gateway": "203.0.113.1", "protocol": "static"}
CONNECTED = {"dst": "203.0.113.0/24", "protocol": "kernel", "prefsrc": "203.0.113.10"}


def state(uplink_master=None, bridge=None, uplink_addrs=(ADDR4, ADDR6, LINKLOCAL), bridge_addrs=(),
          uplink_routes=(DEFAULT4, CONNECTED)):
    links = {"eth0": {"ifname": "eth0", "address": MAC, "flags": ["UP"], "master": uplink_master}}
    if bridge is not None:
        links["br0"] = bridge
    return {"links": links,
            "addresses": {"eth0": list(uplink_addrs), "br0": list(bridge_addrs)},
            "routes": {"eth0": {"inet": list(uplink_routes), "inet6": []}}}


def test_fresh_node():
    assert plan(state(), "eth0", "br0") == [
        ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"],
        ["ip", "link", "set", "br0", "address", MAC],
        ["ip", "link", "set", "br0", "up"],
        ["ip", "addr", "add", "203.0.113.10/24", "dev", "br0"],
        ["ip", "addr", "add", "2001:db8::10/64", "dev", "br0"],
        ["ip", "link", "set", "eth0", "master", "br0"],
        ["ip", "addr", "del", "203.0.113.10/24", "dev", "eth0"],
        ["ip", "addr", "del", "2001:db8::10/64", "dev", "eth0"],
        ["ip", "route", "replace", "default", "via", "203.0.113.1", "dev", "br0"],
    ]


def test_done_node_needs_nothing():
    bridge = {"ifname": "br0", "address": MAC, "flags": ["UP"], "linkinfo": {"info_kind": "bridge"}}
    done = state(uplink_master="br0", bridge=bridge, uplink_addrs=(LINKLOCAL,), bridge_addrs=(ADDR4, ADDR6),
                 uplink_routes=())
    assert plan(done, "eth0", "br0") == []


def test_half_done_node_finishes():
    bridge = {"ifname": "br0", "address": MAC, "flags": ["UP"], "linkinfo": {"info_kind": "bridge"}}
    half = state(uplink_master="br0", bridge=bridge, bridge_addrs=(ADDR4,), uplink_addrs=(ADDR4,), uplink_routes=())
    assert plan(half, "eth0", "br0") == [["ip", "addr", "del", "203.0.113.10/24", "dev", "eth0"]]


@pytest.mark.parametrize(
    ("current", "uplink", "field"),
    [
        (state(), "eth9", "uplink"),
        (state(uplink_master="bond0"), "eth0", "uplink"),
        (state(bridge={"ifname": "br0", "linkinfo": {"info_kind": "vlan"}}), "eth0", "bridge"),
    ],
)
def test_refusals(current, uplink, field):
    with pytest.raises(ValidationError) as err:
        plan(current, uplink, "br0")
    assert err.value.field == field
