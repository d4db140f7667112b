"""IP pools by tables: what a declaration becomes, the field every refusal names, allocation and usage."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.ip_pools import (
    allocate,
    check_address,
    interface_config,
    parse_pools,
    pool_of,
    pools_for,
    usage,
)

NET = ("network", "default")
BR0 = ("bridge", "br0")
ROUTED = ("routed", None)


def ip(text):
    return int(ipaddress.ip_address(text))


def pool(**overrides):
    base = {"name": "public-v4", "subnet": "192.0.2.0/24", "network": "default"}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def one(**overrides):
    return parse_pools([pool(**overrides)])[0]


# What a declaration becomes.

def test_a_full_declaration_is_normalized():
    got = one(ranges=["192.0.2.60", "192.0.2.10-192.0.2.50", "192.0.2.51 - 192.0.2.52"], gateway="192.0.2.1",
              dns=["192.0.2.53", "2001:DB8::53"], reserved=["192.0.2.20", "192.0.2.30-192.0.2.31"], cluster="c1")
    assert got == {
        "name": "public-v4", "version": 4, "subnet": "192.0.2.0/24", "prefix": 24, "gateway": "192.0.2.1",
        "dns": ["192.0.2.53", "2001:db8::53"],
        "ranges": [(ip("192.0.2.10"), ip("192.0.2.52")), (ip("192.0.2.60"), ip("192.0.2.60"))],
        "reserved": [(ip("192.0.2.20"), ip("192.0.2.20")), (ip("192.0.2.30"), ip("192.0.2.31"))],
        "attach": ("network", "default"), "cluster": "c1", "size": 43 + 1 - 3,
    }


@pytest.mark.parametrize(
    ("overrides", "ranges", "size"),
    [
        ({}, [("192.0.2.1", "192.0.2.254")], 254),
        ({"gateway": "192.0.2.1"}, [("192.0.2.1", "192.0.2.254")], 253),
        ({"gateway": "192.0.2.1", "reserved": ["192.0.2.1", "192.0.2.2-192.0.2.9", "192.0.2.200/29"]},
         [("192.0.2.1", "192.0.2.254")], 254 - 9 - 8),
        ({"ranges": ["192.0.2.0/25"]}, [("192.0.2.1", "192.0.2.127")], 127),  # network address left out
        ({"ranges": ["192.0.2.128/25", "192.0.2.10"]},
         [("192.0.2.10", "192.0.2.10"), ("192.0.2.128", "192.0.2.254")], 128),  # broadcast left out
        ({"ranges": ["192.0.2.10-192.0.2.20", "192.0.2.15-192.0.2.30", "192.0.2.31"]},
         [("192.0.2.10", "192.0.2.31")], 22),  # overlapping and adjacent ranges merge
        ({"gateway": "192.0.2.99", "ranges": ["192.0.2.10-192.0.2.20"]}, [("192.0.2.10", "192.0.2.20")], 11),
        ({"subnet": "192.0.2.0/30"}, [("192.0.2.1", "192.0.2.2")], 2),
        ({"subnet": "192.0.2.0/31"}, [("192.0.2.0", "192.0.2.1")], 2),
        ({"subnet": "192.0.2.7/32"}, [("192.0.2.7", "192.0.2.7")], 1),
        ({"subnet": "2001:db8::/64"}, [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")], 2 ** 64 - 1),
        ({"subnet": "2001:db8::/64", "gateway": "2001:db8::1"}, [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")],
         2 ** 64 - 2),
        ({"subnet": "2001:db8::/127"}, [("2001:db8::", "2001:db8::1")], 2),
        ({"subnet": "2001:db8::/64", "ranges": ["2001:db8::100/120"]}, [("2001:db8::100", "2001:db8::1ff")], 256),
    ],
)
def test_ranges_and_size(overrides, ranges, size):
    got = one(**overrides)
    assert got["ranges"] == [(ip(first), ip(last)) for first, last in ranges]
    assert got["size"] == size and isinstance(got["size"], int)


@pytest.mark.parametrize(
    ("overrides", "attach"),
    [
        ({}, ("network", "default")),
        ({"network": None, "bridge": "br0"}, ("bridge", "br0")),
        ({"network": None, "routed": True}, ("routed", None)),
        ({"routed": False}, ("network", "default")),
    ],
)
def test_attach(overrides, attach):
    assert one(**overrides)["attach"] == attach


def test_no_pools():
    assert parse_pools(None) == [] and parse_pools([]) == []


# The field every refusal names.

@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ("public", "ip_pools", "must be a list"),
        ({"name": "a"}, "ip_pools", "must be a list"),
        (["x"], "ip_pools[0]", "must be a mapping"),
        ([pool(), pool(name="b", subnet="198.51.100.0/24", vlan=5)], "ip_pools[1].vlan", "unknown key(s) vlan"),
        ([pool(name=None)], "ip_pools[0].name", "must be 1-64 characters"),
        ([pool(name="a/b")], "ip_pools[0].name", "must be 1-64 characters"),
        ([pool(), pool(subnet="198.51.100.0/24")], "ip_pools[1].name", "already declared at ip_pools[0]"),
        ([pool(subnet=None)], "ip_pools[0].subnet", "required"),
        ([pool(subnet="192.0.2.0")], "ip_pools[0].subnet", "must be a network like"),
        ([pool(subnet=24)], "ip_pools[0].subnet", "must be a network like"),
        ([pool(subnet="192.0.2.1/24")], "ip_pools[0].subnet", "has host bits set (the network is 192.0.2.0/24)"),
        ([pool(subnet="2001:db8::1/64")], "ip_pools[0].subnet", "has host bits set (the network is 2001:db8::/64)"),
        ([pool(subnet="192.0.2.0/33")], "ip_pools[0].subnet", "192.0.2.0/33"),
        ([pool(subnet="nope/24")], "ip_pools[0].subnet", "nope/24"),
        ([pool(ranges="192.0.2.10-192.0.2.20")], "ip_pools[0].ranges", "must be a list"),
        ([pool(ranges=[])], "ip_pools[0].ranges", "must not be empty"),
        ([pool(ranges=["192.0.2.10", "198.51.100.1-198.51.100.9"])], "ip_pools[0].ranges[1]",
         "198.51.100.1-198.51.100.9 is outside subnet 192.0.2.0/24"),
        ([pool(ranges=["192.0.2.250-192.0.3.5"])], "ip_pools[0].ranges[0]", "outside subnet 192.0.2.0/24"),
        ([pool(ranges=["192.0.2.0/23"])], "ip_pools[0].ranges[0]", "outside subnet 192.0.2.0/24"),
        ([pool(ranges=["2001:db8::1"])], "ip_pools[0].ranges[0]", "outside subnet 192.0.2.0/24"),
        ([pool(ranges=["192.0.2.50-192.0.2.10"])], "ip_pools[0].ranges[0]", "starts after it ends"),
        ([pool(ranges=["192.0.2.10-2001:db8::1"])], "ip_pools[0].ranges[0]", "mixes an IPv4 and an IPv6 address"),
        ([pool(ranges=["192.0.2.10-"])], "ip_pools[0].ranges[0]", "not an address, a range A-B or a network"),
        ([pool(ranges=["192.0.2.x"])], "ip_pools[0].ranges[0]", "not an address, a range A-B or a network"),
        ([pool(ranges=["192.0.2.8/28"])], "ip_pools[0].ranges[0]", "has host bits set"),
        ([pool(ranges=[10])], "ip_pools[0].ranges[0]", "not an address, a range A-B or a network"),
        ([pool(ranges=["192.0.2.0"])], "ip_pools[0].ranges[0]", "is the network address of 192.0.2.0/24"),
        ([pool(ranges=["192.0.2.255"])], "ip_pools[0].ranges[0]", "is the broadcast address of 192.0.2.0/24"),
        ([pool(subnet="2001:db8::/64", ranges=["2001:db8::"])], "ip_pools[0].ranges[0]", "Subnet-Router anycast"),
        ([pool(gateway="10.0.0.1")], "ip_pools[0].gateway", "10.0.0.1 is outside subnet 192.0.2.0/24"),
        ([pool(gateway="2001:db8::1")], "ip_pools[0].gateway", "2001:db8::1 is outside subnet 192.0.2.0/24"),
        ([pool(gateway="gw")], "ip_pools[0].gateway", "not an IPv4 or IPv6 address"),
        ([pool(gateway="192.0.2.255")], "ip_pools[0].gateway", "the broadcast address of 192.0.2.0/24"),
        ([pool(reserved=["192.0.2.5", "10.0.0.1"])], "ip_pools[0].reserved[1]", "10.0.0.1 is outside subnet"),
        ([pool(reserved=["192.0.2.5-10.0.0.1"])], "ip_pools[0].reserved[0]", "starts after it ends"),
        ([pool(reserved="192.0.2.5")], "ip_pools[0].reserved", "must be a list"),
        ([pool(dns=["192.0.2.53", "dns.example"])], "ip_pools[0].dns[1]", "not an IPv4 or IPv6 address"),
        ([pool(dns="192.0.2.53")], "ip_pools[0].dns", "must be a list"),
        ([pool(network=None)], "ip_pools[0]", "exactly one of network, bridge or routed (got none)"),
        ([pool(bridge="br0")], "ip_pools[0]", "exactly one of network, bridge or routed (got network, bridge)"),
        ([pool(network=None, bridge="br0", routed=True)], "ip_pools[0]", "(got bridge, routed)"),
        ([pool(network="a b")], "ip_pools[0].network", "must be 1-64 characters"),
        ([pool(network=None, bridge="much-too-long-bridge")], "ip_pools[0].bridge", "not a valid interface name"),
        ([pool(network=None, routed="yes")], "ip_pools[0].routed", "must be true"),
        ([pool(cluster="c 1")], "ip_pools[0].cluster", "must be 1-64 characters"),
        # Overlaps name the second pool's field and the first pool, whatever the attachment or the cluster.
        ([pool(ranges=["192.0.2.10-192.0.2.50"]), pool(name="b", ranges=["192.0.2.50-192.0.2.60"], bridge="br0",
                                                         network=None, cluster="c2")],
         "ip_pools[1].ranges", "192.0.2.50 is also in pool public-v4 (192.0.2.0/24)"),
        ([pool(ranges=["192.0.2.10-192.0.2.50"]), pool(name="b", subnet="192.0.2.0/26")],
         "ip_pools[1].subnet", "192.0.2.10-192.0.2.50 is also in pool public-v4"),
        ([pool(subnet="2001:db8::/64", name="v6"), pool(name="v6b", subnet="2001:db8::/48", cluster="c9")],
         "ip_pools[1].subnet", "2001:db8::1-2001:db8::ffff:ffff:ffff:ffff is also in pool v6 (2001:db8::/64)"),
        ([pool(subnet="2001:db8::/64", name="v6", ranges=["2001:db8::10-2001:db8::20"]),
          pool(name="c", subnet="198.51.100.0/24"),
          pool(name="v6b", subnet="2001:db8::/64", ranges=["2001:db8::/124", "2001:db8::10/124"])],
         "ip_pools[2].ranges", "2001:db8::10-2001:db8::1f is also in pool v6"),
    ],
)
def test_refusals_name_their_field(raw, field, fragment):
    with pytest.raises(ValidationError) as err:
        parse_pools(raw)
    assert err.value.field == field
    assert err.value.msg.startswith(f"{field}: ") and fragment in err.value.msg


def test_the_field_prefix_is_the_callers():
    with pytest.raises(ValidationError) as err:
        parse_pools([pool(gateway="10.0.0.1")], field="vmm_ip_pools")
    assert err.value.field == "vmm_ip_pools[0].gateway"


@pytest.mark.parametrize(
    "raw",
    [
        # Ranges side by side, the same gateway outside both, different NICs.
        [pool(ranges=["192.0.2.10-192.0.2.50"], gateway="192.0.2.1"),
         pool(name="b", ranges=["192.0.2.51-192.0.2.60"], gateway="192.0.2.1", bridge="br0", network=None)],
        # The same integers in IPv4 and IPv6 are different addresses.
        [pool(), pool(name="v6", subnet="::c000:200/120")],
        [pool(subnet="2001:db8::/64", name="v6a"), pool(subnet="2001:db8:0:1::/64", name="v6b")],
    ],
)
def test_pools_that_do_not_overlap(raw):
    assert [p["name"] for p in parse_pools(raw)] == [p["name"] for p in raw]


# Which pools serve a NIC.

CLUSTERED = parse_pools([
    pool(name="all-v4", subnet="10.0.0.0/24"),
    pool(name="c1-v4", subnet="10.0.1.0/24", cluster="c1"),
    pool(name="all-v6", subnet="2001:db8::/64"),
    pool(name="c2-v4", subnet="10.0.2.0/24", cluster="c2"),
    pool(name="br-v4", subnet="10.0.3.0/24", network=None, bridge="br0"),
    pool(name="routed-v4", subnet="203.0.113.0/24", network=None, routed=True),
    pool(name="other-net", subnet="10.0.4.0/24", network="other"),
])


@pytest.mark.parametrize(
    ("attach", "cluster", "version", "names"),
    [
        (NET, "c1", None, ["all-v4", "c1-v4", "all-v6"]),
        (NET, "c2", None, ["all-v4", "all-v6", "c2-v4"]),
        (NET, "c3", None, ["all-v4", "all-v6"]),
        (NET, None, None, ["all-v4", "all-v6"]),
        (NET, "", None, ["all-v4", "all-v6"]),
        (NET, "c1", 4, ["all-v4", "c1-v4"]),
        (NET, "c1", 6, ["all-v6"]),
        (BR0, "c1", None, ["br-v4"]),
        (("bridge", "br1"), "c1", None, []),
        (ROUTED, None, None, ["routed-v4"]),
        (("routed", "203.0.113.7"), "c1", None, ["routed-v4"]),  # a NIC's (type, source) works as well
        (["network", "other"], None, 4, ["other-net"]),
        (("network", "other"), None, 6, []),
    ],
)
def test_pools_for(attach, cluster, version, names):
    assert [p["name"] for p in pools_for(CLUSTERED, attach, cluster, version)] == names


# Lookup.

LOOKUP = parse_pools([
    pool(name="wide", subnet="192.0.2.0/24", ranges=["192.0.2.100-192.0.2.150"]),
    pool(name="narrow", subnet="192.0.2.0/25", ranges=["192.0.2.10-192.0.2.20"], bridge="br0", network=None),
    pool(name="v6", subnet="2001:db8::/64", ranges=["2001:db8::100-2001:db8::1ff"]),
])


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("192.0.2.120", "wide"),
        ("192.0.2.15", "narrow"),  # in narrow's ranges, though in wide's subnet too
        ("192.0.2.50", "wide"),  # in both subnets, in no ranges: the first
        ("192.0.2.200", "wide"),
        ("198.51.100.1", None),
        ("2001:db8::150", "v6"),
        ("2001:db8::ffff", "v6"),
        ("::c000:20f", None),  # 192.0.2.15 as an integer, but IPv6
        ("not-an-ip", None),
        (None, None),
    ],
)
def test_pool_of(address, name):
    found = pool_of(LOOKUP, address)
    assert (found and found["name"]) == name


# Explicit addresses.

EXPLICIT = parse_pools([
    pool(name="pub", ranges=["192.0.2.10-192.0.2.50"], gateway="192.0.2.1", reserved=["192.0.2.20-192.0.2.21"]),
    pool(name="c2", subnet="198.51.100.0/24", ranges=["198.51.100.10-198.51.100.20"], cluster="c2"),
    pool(name="br", subnet="192.0.2.0/24", ranges=["192.0.2.60-192.0.2.70"], bridge="br0", network=None),
    pool(name="v6", subnet="2001:db8::/64", gateway="2001:db8::1"),
])
USED = {"192.0.2.11", "2001:db8::5", "garbage", "192.0.2.12/24"}


@pytest.mark.parametrize(
    ("address", "attach", "cluster", "name", "text"),
    [
        ("192.0.2.10", NET, "c1", "pub", "192.0.2.10"),
        (" 192.0.2.50 ", NET, None, "pub", "192.0.2.50"),
        ("192.0.2.99", NET, None, "pub", "192.0.2.99"),  # in the subnet, outside the ranges: a static address
        ("198.51.100.15", NET, "c2", "c2", "198.51.100.15"),
        ("192.0.2.65", BR0, None, "br", "192.0.2.65"),
        ("2001:DB8::0010", NET, "c1", "v6", "2001:db8::10"),
        ("2001:db8::ffff:ffff:ffff:ffff", NET, "c1", "v6", "2001:db8::ffff:ffff:ffff:ffff"),
    ],
)
def test_check_address_takes(address, attach, cluster, name, text):
    found, got = check_address(EXPLICIT, address, attach, cluster, USED, "networks[0].ipv4")
    assert (found["name"], got) == (name, text)


@pytest.mark.parametrize(
    ("address", "attach", "cluster", "error", "fragment"),
    [
        ("192.0.2", NET, None, ValidationError, "not an IPv4 or IPv6 address (got '192.0.2')"),
        ("192.0.2.10/24", NET, None, ValidationError, "not an IPv4 or IPv6 address"),
        (None, NET, None, ValidationError, "not an IPv4 or IPv6 address"),
        ("10.9.9.9", NET, None, ValidationError, "10.9.9.9 is in no pool serving network default; "
                                                 "pools that do: pub (192.0.2.0/24)"),
        ("198.51.100.15", NET, "c1", ValidationError, "198.51.100.15 is in pool c2, which does not serve network "
                                                      "default in cluster c1; pools that do: pub (192.0.2.0/24)"),
        ("198.51.100.99", NET, "c1", ValidationError, "is in no pool serving network default in cluster c1"),
        ("192.0.2.65", NET, None, ValidationError, "192.0.2.65 is in pool br, which does not serve network default"),
        ("192.0.2.15", BR0, None, ValidationError, "192.0.2.15 is in pool pub, which does not serve bridge br0; "
                                                   "pools that do: br (192.0.2.0/24)"),
        ("192.0.2.15", ("bridge", "br9"), None, ValidationError, "not in an IP pool: no IPv4 pool serves bridge br9"),
        ("192.0.2.15", ROUTED, None, ValidationError, "no IPv4 pool serves routed NICs"),
        ("2001:db8::10", BR0, None, ValidationError, "no IPv6 pool serves bridge br0"),
        ("192.0.2.1", NET, None, ValidationError, "192.0.2.1 is the gateway of pool pub"),
        ("2001:db8::1", NET, None, ValidationError, "2001:db8::1 is the gateway of pool v6"),
        ("192.0.2.21", NET, None, ValidationError, "192.0.2.21 is reserved in pool pub"),
        ("192.0.2.0", NET, None, ValidationError, "192.0.2.0 is the network address of 192.0.2.0/24"),
        ("192.0.2.255", NET, None, ValidationError, "192.0.2.255 is the broadcast address of 192.0.2.0/24"),
        ("2001:db8::", NET, None, ValidationError, "Subnet-Router anycast address of 2001:db8::/64"),
        ("192.0.2.11", NET, None, ConflictError, "192.0.2.11 is in use"),
        ("192.0.2.12", NET, None, ConflictError, "192.0.2.12 is in use"),  # used given as address/prefix
        ("2001:db8:0::5", NET, None, ConflictError, "2001:db8::5 is in use"),
    ],
)
def test_check_address_refuses(address, attach, cluster, error, fragment):
    with pytest.raises(error) as err:
        check_address(EXPLICIT, address, attach, cluster, USED, "networks[1].ipv4")
    assert type(err.value) is error and err.value.field == "networks[1].ipv4"
    assert err.value.msg.startswith("networks[1].ipv4: ") and fragment in err.value.msg


# Allocation.

SMALL = parse_pools([
    pool(name="public-v4", ranges=["192.0.2.0/29"], gateway="192.0.2.1", reserved=["192.0.2.3"]),  # .2 .4-.7
    pool(name="spill", subnet="198.51.100.0/30"),  # .1 .2
    pool(name="v6", subnet="2001:db8::/64", gateway="2001:db8::1", reserved=["2001:db8::3-2001:db8::9"]),
    pool(name="c1-only", subnet="203.0.113.0/24", ranges=["203.0.113.10"], cluster="c1"),
])
FULL_PUB = {"192.0.2.2", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7"}
FULL_V4 = FULL_PUB | {"198.51.100.1", "198.51.100.2"}


@pytest.mark.parametrize(
    ("used", "version", "cluster", "name", "address"),
    [
        (set(), 4, None, "public-v4", "192.0.2.2"),  # .0 network, .1 gateway
        ({"192.0.2.2"}, 4, None, "public-v4", "192.0.2.4"),  # .3 reserved
        ({"192.0.2.2", "192.0.2.4", "192.0.2.6"}, 4, None, "public-v4", "192.0.2.5"),
        ({"192.0.2.2", "192.0.2.4", "192.0.2.5", "192.0.2.6"}, 4, None, "public-v4", "192.0.2.7"),  # not broadcast
        (FULL_PUB, 4, None, "spill", "198.51.100.1"),  # .3 of the /30 is its broadcast
        (FULL_PUB | {"198.51.100.1"}, 4, "c1", "spill", "198.51.100.2"),
        (FULL_PUB | {"198.51.100.1", "198.51.100.2"}, 4, "c1", "c1-only", "203.0.113.10"),
        (set(), 6, None, "v6", "2001:db8::2"),
        ({"2001:db8::2"}, 6, None, "v6", "2001:db8::a"),
        ({"2001:db8::2", "2001:db8::a", "2001:db8::c"}, 6, None, "v6", "2001:db8::b"),
        ({"::c000:202"}, 4, None, "public-v4", "192.0.2.2"),  # same integer, other version: not in use
    ],
)
def test_allocate_takes_the_lowest_free_address(used, version, cluster, name, address):
    found, got = allocate(SMALL, NET, cluster, version, used, "networks[0].ipv4")
    assert (found["name"], got) == (name, address)


def test_allocate_from_a_named_pool():
    found, got = allocate(SMALL, NET, None, 4, set(), "networks[0].ipv4", pool_name="spill")
    assert (found["name"], got) == ("spill", "198.51.100.1")


@pytest.mark.parametrize(
    ("attach", "cluster", "version", "used", "pool_name", "error", "fragment"),
    [
        (NET, None, 4, FULL_V4 | {"192.0.2.3", "192.0.2.1"}, None, ConflictError,
         "no free IPv4 address in pools public-v4 (5 of 5 used), spill (2 of 2 used)"),
        (NET, None, 4, FULL_V4, "public-v4", ConflictError, "no free IPv4 address in pool public-v4 (5 of 5 used)"),
        (NET, "c1", 4, FULL_V4 | {"203.0.113.10"}, "c1-only", ConflictError,
         "no free IPv4 address in pool c1-only (1 of 1 used)"),
        (NET, None, 4, set(), "nope", ValidationError, "no IP pool named nope"),
        (NET, None, 4, set(), "c1-only", ValidationError, "pool c1-only does not serve IPv4 on network default"),
        (NET, None, 6, set(), "spill", ValidationError, "pool spill does not serve IPv6 on network default"),
        (BR0, "c1", 4, set(), None, ValidationError, "no IPv4 pool serves bridge br0 in cluster c1"),
        (ROUTED, None, 6, set(), None, ValidationError, "no IPv6 pool serves routed NICs"),
        (NET, None, 5, set(), None, ValidationError, "IP version must be 4 or 6"),
    ],
)
def test_allocate_refuses(attach, cluster, version, used, pool_name, error, fragment):
    with pytest.raises(error) as err:
        allocate(SMALL, attach, cluster, version, used, "networks[0].ipv4", pool_name=pool_name)
    assert type(err.value) is error and err.value.field == "networks[0].ipv4"
    assert err.value.msg.startswith("networks[0].ipv4: ") and fragment in err.value.msg


def test_allocate_fills_a_pool_exactly_once():
    pools = parse_pools([pool(ranges=["192.0.2.10-192.0.2.30"], gateway="192.0.2.15", reserved=["192.0.2.20/30"])])
    used = set()
    while True:
        try:
            _, address = allocate(pools, NET, None, 4, used, "ipv4")
        except ConflictError as err:
            assert "no free IPv4 address in pool public-v4 (16 of 16 used)" in err.msg
            break
        assert address not in used
        used.add(address)
    assert len(used) == pools[0]["size"] == 21 - 1 - 4
    assert not used & {"192.0.2.15", "192.0.2.20", "192.0.2.21", "192.0.2.22", "192.0.2.23"}


def test_allocate_on_a_64_skips_thousands_of_used_addresses_quickly():
    pools = parse_pools([pool(name="v6", subnet="2001:db8::/64", gateway="2001:db8::1",
                              reserved=["2001:db8::2-2001:db8::ff"])])
    base = ip("2001:db8::100")
    used = {str(ipaddress.IPv6Address(base + n)) for n in range(20000)} | {"2001:db8::1:0:0:5"}
    started = time.perf_counter()
    _, address = allocate(pools, NET, None, 6, used, "ipv6")
    assert address == str(ipaddress.IPv6Address(base + 20000))
    [report] = usage(pools, used)
    assert time.perf_counter() - started < 2
    assert (report["size"], report["used"]) == (2 ** 64 - 1 - 1 - 254, 20001)
    assert report["free"] == report["size"] - 20001


def test_allocate_the_last_address_of_a_64():
    last = "2001:db8::ffff:ffff:ffff:ffff"
    pools = parse_pools([pool(name="v6", subnet="2001:db8::/64",
                              reserved=["2001:db8::1-2001:db8::ffff:ffff:ffff:fffe"])])
    assert pools[0]["size"] == 1
    assert allocate(pools, NET, None, 6, set(), "ipv6")[1] == last
    with pytest.raises(ConflictError, match=r"no free IPv6 address in pool v6 \(1 of 1 used\)"):
        allocate(pools, NET, None, 6, {last}, "ipv6")


def test_pools_survive_a_json_round_trip():
    pools = json.loads(json.dumps(EXPLICIT))
    assert allocate(pools, NET, None, 4, {"192.0.2.10"}, "ipv4")[1] == "192.0.2.11"
    assert check_address(pools, "192.0.2.30", NET, None, set(), "ipv4")[1] == "192.0.2.30"
    with pytest.raises(ValidationError, match="reserved in pool pub"):
        check_address(pools, "192.0.2.20", NET, None, set(), "ipv4")
    assert usage(pools, {"192.0.2.10"})[0]["used"] == 1


# Usage and guest configuration.

def test_usage():
    used = {"192.0.2.2", "192.0.2.6", "192.0.2.1", "192.0.2.3", "192.0.2.100", "2001:db8::2", "2001:db8::5",
            "2001:db8:1::1", "203.0.113.10", "nonsense"}
    assert usage(SMALL, used) == [
        {"name": "public-v4", "version": 4, "subnet": "192.0.2.0/24", "gateway": "192.0.2.1", "dns": [],
         "attach": {"network": "default"}, "cluster": None, "size": 5, "used": 2, "free": 3,
         "addresses": ["192.0.2.2", "192.0.2.6"]},  # the gateway, reserved .3 and .100 outside the ranges: not counted
        {"name": "spill", "version": 4, "subnet": "198.51.100.0/30", "gateway": None, "dns": [],
         "attach": {"network": "default"}, "cluster": None, "size": 2, "used": 0, "free": 2, "addresses": []},
        {"name": "v6", "version": 6, "subnet": "2001:db8::/64", "gateway": "2001:db8::1", "dns": [],
         "attach": {"network": "default"}, "cluster": None, "size": 2 ** 64 - 1 - 1 - 7, "used": 1,
         "free": 2 ** 64 - 1 - 1 - 7 - 1, "addresses": ["2001:db8::2"]},
        {"name": "c1-only", "version": 4, "subnet": "203.0.113.0/24", "gateway": None, "dns": [],
         "attach": {"network": "default"}, "cluster": "c1", "size": 1, "used": 1, "free": 0,
         "addresses": ["203.0.113.10"]},
    ]


def test_usage_attach_views():
    assert [u["attach"] for u in usage(CLUSTERED[4:], ())] == [{"bridge": "br0"}, {"routed": True},
                                                                {"network": "other"}]


def test_usage_addresses_are_sorted_numerically():
    pools = parse_pools([pool()])
    assert usage(pools, ["192.0.2.100", "192.0.2.9", "192.0.2.20"])[0]["addresses"] == [
        "192.0.2.9", "192.0.2.20", "192.0.2.100"]


@pytest.mark.parametrize(
    ("index", "address", "expected"),
    [
        (0, "192.0.2.10", {"address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1", "dns": ["192.0.2.53"],
                           "version": 4}),
        (1, "2001:db8::0a", {"address": "2001:db8::a", "prefix": 64, "gateway": None, "dns": [], "version": 6}),
    ],
)
def test_interface_config(index, address, expected):
    pools = parse_pools([pool(gateway="192.0.2.1", dns=["192.0.2.53"]), pool(name="v6", subnet="2001:db8::/64")])
    assert interface_config(pools[index], address) == expected


@pytest.mark.parametrize("address", ["198.51.100.1", "::c000:20a", "x"])
def test_interface_config_refuses_an_address_outside_the_pool(address):
    with pytest.raises(ValidationError) as err:
        interface_config(one(), address, field="networks[0].ipv4")
    assert err.value.field == "networks[0].ipv4"
