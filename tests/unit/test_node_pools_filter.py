"""The node_pools filter: the pools the nodes declare, each once; one name declared two ways is an error."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vmm.cloud.plugins.filter.node_pools import node_pools

A = {"name": "a", "network": "default", "subnet": "192.0.2.0/24"}
B = {"name": "b", "bridge": "br0", "subnet": "198.51.100.0/24"}


def test_each_pool_once_in_order():
    hostvars = {"n1": {"vmm_ip_pools": [A]}, "n2": {"vmm_ip_pools": [A, B]}, "n3": {}}
    assert node_pools(["n1", "n2", "n3", "gone"], hostvars) == [A, B]


def test_one_name_two_ways_names_both_nodes():
    hostvars = {"n1": {"vmm_ip_pools": [A]}, "n2": {"vmm_ip_pools": [dict(A, subnet="10.0.0.0/24")]}}
    with pytest.raises(AnsibleFilterError, match=r"vmm_ip_pools\[0\]\.name: pool a of node n2 is declared "
                                                 r"otherwise for node n1"):
        node_pools(["n1", "n2"], hostvars)
