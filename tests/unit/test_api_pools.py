"""The API's IP pools report: declarations gathered from the nodes' variables, holders from the directory (tables)."""

import pytest

from api.errors import ApiError
from api.nodes import node_variables
from api.pools import declared_pools, holders, report

P4 = {"name": "pub4", "subnet": "203.0.113.0/24", "ranges": ["203.0.113.10-203.0.113.19"], "gateway": "203.0.113.1",
      "routed": True}
P6 = {"name": "pub6", "subnet": "2001:db8:5::/64", "ranges": ["2001:db8:5::10-2001:db8:5::1f"], "routed": True}
LAN = {"name": "lan-a", "subnet": "10.20.0.0/24", "ranges": ["10.20.0.100-10.20.0.103"], "bridge": "br0",
       "cluster": "a"}


@pytest.mark.parametrize(("node_vars", "names"), [
    ({}, []),
    ({"n1": {}, "n2": {"vmm_ip_pools": None}, "n3": {"vmm_ip_pools": []}}, []),
    ({"n1": {"vmm_ip_pools": [P4, P6]}, "n2": {"vmm_ip_pools": [P4, P6]}}, ["pub4", "pub6"]),  # one list, all nodes
    ({"a1": {"vmm_ip_pools": [P4, LAN]}, "b1": {"vmm_ip_pools": [P4, P6]}}, ["pub4", "lan-a", "pub6"]),  # per group
    ({"a1": {"vmm_ip_pools": [LAN, P4]}, "b1": {"vmm_ip_pools": [dict(P4, ranges=["203.0.113.10-203.0.113.19"])]}},
     ["lan-a", "pub4"]),  # the same pool written twice
])
def test_declared_pools(node_vars, names):
    assert [pool["name"] for pool in declared_pools(node_vars)] == names


@pytest.mark.parametrize(("node_vars", "field", "words"), [
    ({"n1": {"vmm_ip_pools": [P4]}, "n2": {"vmm_ip_pools": [P4, dict(LAN, gateway="10.9.9.1")]}},
     "vmm_ip_pools[1].gateway", ["node n2", "10.9.9.1 is outside subnet 10.20.0.0/24"]),
    ({"n1": {"vmm_ip_pools": "{{ pools }}"}}, "vmm_ip_pools", ["node n1", "must be a list", "{{ pools }}"]),
    ({"n1": {"vmm_ip_pools": [P4, "pub6"]}}, "vmm_ip_pools[1]", ["must be a mapping"]),
    ({"n1": {"vmm_ip_pools": [P4, P4]}}, "vmm_ip_pools[1].name", ["already declared at vmm_ip_pools[0]"]),
    ({"n1": {"vmm_ip_pools": [dict(P4, colour="red")]}}, "vmm_ip_pools[0].colour", ["unknown key"]),
    ({"a1": {"vmm_ip_pools": [LAN, P4]}, "b1": {"vmm_ip_pools": [P6, dict(P4, gateway="203.0.113.254")]}},
     "vmm_ip_pools[1].name", ["node b1", "pool pub4 is declared otherwise for node a1 (its vmm_ip_pools[1])"]),
    ({"a1": {"vmm_ip_pools": [P4]}, "b1": {"vmm_ip_pools": [P6, dict(P4, name="other4")]}},
     "vmm_ip_pools[1].ranges", ["node b1", "also in pool pub4"]),  # one address in two pools, across lists
])
def test_a_broken_declaration_names_node_and_field(node_vars, field, words):
    with pytest.raises(ApiError) as err:
        declared_pools(node_vars)
    assert (err.value.status, err.value.field) == (500, field)
    assert err.value.detail.startswith("The inventory's IP pools are not valid")
    assert f"): {field}: " in err.value.detail and all(word in err.value.detail for word in words), err.value.detail


def test_the_variables_come_plain_from_the_listing():
    listing = {"_meta": {"hostvars": {"n1": {"vmm_ip_pools": [{"name": {"__ansible_unsafe": "pub4"},
                                                               "ranges": [{"__ansible_unsafe": "a-b"}]}]},
                                      "web": {"vmm_ip_pools": [P6]}}},
               "vmm_nodes": {"children": ["cluster_a"]}, "cluster_a": {"hosts": ["n1"]}, "other": {"hosts": ["web"]}}
    assert node_variables(listing) == {"n1": {"vmm_ip_pools": [{"name": "pub4", "ranges": ["a-b"]}]}}


def test_holders_in_canonical_form():
    vms = [("a", ["10.0.0.5", "2001:DB8::0010"]), ("b", ["10.0.0.5/24", "not-an-ip"]), ("c", [])]
    assert holders(vms) == {"10.0.0.5": ["a", "b"], "2001:db8::10": ["a"]}


def test_report_counts_and_names_the_holders():
    vms = [("vm1", ["203.0.113.10", "2001:db8:5::10"]), ("vm2", ["10.20.0.100", "192.168.122.50"]),
           ("vm3", ["203.0.113.10"]), ("vm4", ["203.0.113.1", "203.0.113.11/24"])]
    pools = {pool["name"]: pool for pool in report(declared_pools({"n": {"vmm_ip_pools": [P4, P6, LAN]}}), vms)}
    assert pools["pub4"] == {
        "name": "pub4", "version": 4, "subnet": "203.0.113.0/24", "gateway": "203.0.113.1", "dns": [],
        "attach": {"routed": True}, "cluster": None, "size": 10, "used": 2, "free": 8,
        # an address two VMs hold is listed for each; the gateway (outside the ranges) is no pool address
        "addresses": [{"address": "203.0.113.10", "vm": "vm1"}, {"address": "203.0.113.10", "vm": "vm3"},
                      {"address": "203.0.113.11", "vm": "vm4"}]}
    assert (pools["pub6"]["used"], pools["pub6"]["free"], pools["pub6"]["addresses"]) == (
        1, 15, [{"address": "2001:db8:5::10", "vm": "vm1"}])
    assert (pools["lan-a"]["used"], pools["lan-a"]["free"], pools["lan-a"]["cluster"]) == (1, 3, "a")
