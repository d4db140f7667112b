"""The routed_ipv6_prefixes filter: the IPv6 subnets a routed node of a cluster answers NDP for (ndppd's rules)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vmm.cloud.plugins.filter.routed_ipv6_prefixes import routed_ipv6_prefixes

EDGE6 = {"name": "edge6", "routed": True, "cluster": "edge", "subnet": "2001:db8:77::/64"}
ALL6 = {"name": "all6", "routed": True, "subnet": "2001:db8:78::/64", "ranges": ["2001:db8:78::10-2001:db8:78::20"]}
EDGE4 = {"name": "edge4", "routed": True, "cluster": "edge", "subnet": "203.0.113.0/24"}
BRIDGE6 = {"name": "br6", "bridge": "br0", "cluster": "edge", "subnet": "2001:db8:79::/64"}
OTHER6 = {"name": "other6", "routed": True, "cluster": "other", "subnet": "2001:db8:7a::/64"}


def test_routed_ipv6_pools_of_the_cluster_and_of_every_cluster():
    pools = [EDGE4, EDGE6, BRIDGE6, OTHER6, ALL6]
    assert routed_ipv6_prefixes(pools, "edge") == ["2001:db8:77::/64", "2001:db8:78::/64"]
    assert routed_ipv6_prefixes(pools, "other") == ["2001:db8:7a::/64", "2001:db8:78::/64"]
    assert routed_ipv6_prefixes([EDGE4, BRIDGE6], "edge") == []
    assert routed_ipv6_prefixes([], "edge") == []


def test_two_pools_of_one_subnet_give_one_rule():
    low = dict(EDGE6, name="low", ranges=["2001:db8:77::10-2001:db8:77::1f"])
    high = dict(EDGE6, name="high", ranges=["2001:db8:77::20-2001:db8:77::2f"])
    assert routed_ipv6_prefixes([low, high], "edge") == ["2001:db8:77::/64"]


def test_a_bad_pool_is_refused_naming_its_field():
    with pytest.raises(AnsibleFilterError,
                       match=r"vmm_ip_pools\[1\]\.subnet: .*rm -rf /. does not appear to be an IPv4 or IPv6 network"):
        routed_ipv6_prefixes([EDGE6, dict(ALL6, subnet="2001:db8:78::/64; rm -rf /")], "edge")
