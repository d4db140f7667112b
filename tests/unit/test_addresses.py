"""Addresses from IP pools, with the VMs (on libvirt's in-process test driver) as the only record."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.addresses import Addresses, lock_path, reserve_addresses
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import build_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import normalize_request

POOLS = [
    {"name": "nat-v4", "network": "default", "subnet": "192.0.2.0/24", "ranges": ["192.0.2.10-192.0.2.12"],
     "gateway": "192.0.2.1", "dns": ["192.0.2.53"]},
    {"name": "nat-v6", "network": "default", "subnet": "2001:db8:1::/64", "gateway": "2001:db8:1::1"},
    {"name": "routed-v4", "routed": True, "subnet": "203.0.113.0/28"},
    {"name": "c2-v4", "bridge": "br0", "cluster": "c2", "subnet": "198.51.100.0/29"},
]


def vm_xml(name, ips=(), mac="52:54:00:aa:00:01"):
    """A test-driver domain whose vmm metadata holds `ips` from nat-v4 on one NIC."""
    spec = {"name": name, "domain_type": "test", "arch": "i686", "vcpus": 1, "memory_mib": 128,
            "interfaces": [{"type": "network", "source": "default", "mac": mac, "model": "virtio"}],
            "metadata": {"ips": list(ips), "addresses": [
                {"address": ip, "mac": mac, "prefix": 24, "version": 4, "pool": "nat-v4", "gateway": "192.0.2.1",
                 "dns": []} for ip in ips]}}
    return build_domain_xml(spec)


@pytest.fixture
def client():
    client = LibvirtClient("test:///default")
    yield client
    client.close()


def nics(*networks):
    return normalize_request({"name": "new", "networks": list(networks)})["interfaces"]


def test_used_is_read_from_every_vms_metadata_but_the_one_changed(client):
    client.define(vm_xml("a", ["192.0.2.10"]))
    client.define(vm_xml("b", ["192.0.2.11", "2001:db8:1::5"], mac="52:54:00:aa:00:02"))
    addresses = Addresses(client, POOLS)
    assert addresses.used() == {"192.0.2.10": "a", "192.0.2.11": "b", "2001:db8:1::5": "b"}
    assert addresses.used(exclude="b") == {"192.0.2.10": "a"}
    client.undefine(client.get_domain("a"))  # deleting the VM frees its address by that alone
    assert "192.0.2.10" not in addresses.used()
    assert [p["used"] for p in addresses.usage()] == [1, 1, 0, 0]


def test_a_new_nic_gets_one_address_of_each_version_its_pools_serve(client):
    client.define(vm_xml("a", ["192.0.2.10"]))
    addresses = Addresses(client, POOLS)
    wanted = nics({"network": "default"}, {"network": "other"})
    assert addresses.needed(wanted)
    assigned = addresses.assign(wanted, (), None, addresses.used())
    assert assigned[0]["addresses"] == [
        {"address": "192.0.2.11", "prefix": 24, "gateway": "192.0.2.1", "dns": ["192.0.2.53"], "version": 4,
         "pool": "nat-v4"},
        {"address": "2001:db8:1::2", "prefix": 64, "gateway": "2001:db8:1::1", "dns": [], "version": 6,
         "pool": "nat-v6"}]
    assert assigned[1]["addresses"] == []  # no pool serves network "other": DHCP as before


def test_the_nics_of_one_vm_never_share_an_address(client):
    addresses = Addresses(client, POOLS)
    assigned = addresses.assign(nics({"network": "default", "ipv6": "none"}, {"network": "default", "ipv6": "none"}),
                                (), None, addresses.used())
    assert [n["addresses"][0]["address"] for n in assigned] == ["192.0.2.10", "192.0.2.11"]


def test_a_full_pool_is_refused_by_name(client):
    for index, ip in enumerate(("192.0.2.10", "192.0.2.11", "192.0.2.12")):
        client.define(vm_xml(f"v{index}", [ip], mac=f"52:54:00:aa:00:0{index}"))
    addresses = Addresses(client, POOLS)
    with pytest.raises(ConflictError) as err:
        addresses.assign(nics({"network": "default", "ipv4": "auto"}), (), None, addresses.used())
    assert err.value.field == "networks[0].ipv4"
    assert "nat-v4 (3 of 3 used)" in err.value.msg


@pytest.mark.parametrize(("nic", "field", "error", "fragment"), [
    ({"network": "default", "ipv4": "192.0.2.10"}, "networks[0].ipv4", ConflictError, "in use by VM a"),
    ({"network": "default", "ipv4": "192.0.2.1"}, "networks[0].ipv4", ValidationError, "gateway of pool nat-v4"),
    ({"network": "default", "ipv4": "10.1.1.1"}, "networks[0].ipv4", ValidationError,
     "is in no pool serving network default"),
    ({"network": "other", "ipv4": "auto"}, "networks[0].ipv4", ValidationError, "no IPv4 pool serves"),
    ({"bridge": "br0", "ipv4": "auto"}, "networks[0].ipv4", ValidationError, "no IPv4 pool serves"),
    ({"routed": "203.0.113.1", "ipv4": "auto"}, None, None, None),
])
def test_an_address_asked_for_is_checked_against_the_pools_and_every_vm(client, nic, field, error, fragment):
    client.define(vm_xml("a", ["192.0.2.10"]))
    addresses = Addresses(client, POOLS)
    if error is None:
        assigned = addresses.assign(nics(nic), (), None, addresses.used())
        assert assigned[0]["source"] == "203.0.113.1" and assigned[0]["addresses"][0]["prefix"] == 32
        return
    with pytest.raises(error) as err:
        addresses.assign(nics(nic), (), None, addresses.used())
    assert err.value.field == field and fragment in err.value.msg


def test_cluster_pools_serve_only_their_cluster(client):
    addresses = Addresses(client, POOLS)
    assigned = addresses.assign(nics({"bridge": "br0"}), (), "c2", addresses.used())
    assert assigned[0]["addresses"][0]["address"] == "198.51.100.1"
    assert addresses.assign(nics({"bridge": "br0"}), (), "c1", addresses.used())[0]["addresses"] == []


def test_routed_auto_takes_the_routed_pool_and_a_routed_address_in_use_is_refused(client):
    addresses = Addresses(client, POOLS)
    assigned = addresses.assign(nics({"routed": "auto"}), (), None, addresses.used())
    assert assigned[0]["source"] == "203.0.113.1"
    no_pools = Addresses(client, [])
    with pytest.raises(ConflictError) as err:
        no_pools.assign(nics({"routed": "203.0.113.9"}), (), None, {"203.0.113.9": "old"})
    assert err.value.field == "networks[0].ipv4" and "in use by VM old" in err.value.msg
    assert no_pools.assign(nics({"routed": "203.0.113.9"}), (), None, {})[0]["addresses"] == []


def test_an_existing_nic_keeps_what_it_holds(client):
    addresses = Addresses(client, POOLS)
    current = addresses.assign(nics({"network": "default"}), (), None, {})
    again = addresses.assign(nics({"network": "default"}), current, None, {"192.0.2.10": "this one, elsewhere"})
    assert again[0]["addresses"] == current[0]["addresses"]  # kept, whatever asked for it
    bare = [dict(current[0], addresses=[])]  # a NIC made before the pools: unset keeps it bare
    assert addresses.assign(nics({"network": "default"}), bare, None, {})[0]["addresses"] == []
    auto = addresses.assign(nics({"network": "default", "ipv4": "auto", "ipv6": "none"}), bare, None, {})
    assert [a["address"] for a in auto[0]["addresses"]] == ["192.0.2.10"]


def test_nothing_to_do_without_pools_or_asked_addresses(client):
    assert not Addresses(client, []).needed(nics({"network": "default"}))
    assert not Addresses(client, POOLS).needed(nics({"network": "other"}))
    assert not Addresses(client, POOLS).needed(None)
    assert Addresses(client, []).needed(nics({"network": "default", "ipv4": "192.0.2.10"}))


def test_bad_pools_fail_the_run_naming_the_field(client):
    with pytest.raises(ValidationError) as err:
        Addresses(client, [dict(POOLS[0], gateway="10.0.0.1")])
    assert err.value.field == "ip_pools[0].gateway"


def test_what_other_nodes_hold_counts_as_used(client):
    addresses = Addresses(client, POOLS, taken=["192.0.2.10"])
    assert addresses.used() == {"192.0.2.10": None}
    assigned = addresses.assign(nics({"network": "default", "ipv6": "none"}), (), None, addresses.used())
    assert assigned[0]["addresses"][0]["address"] == "192.0.2.11"


@pytest.mark.parametrize(("taken", "holder"), [
    ({"address": "192.0.2.10", "vm": "web", "node": "n2"}, "VM web on n2"),  # as filter held_addresses gives it
    ({"address": "192.0.2.10", "vm": "web"}, "VM web"),
    ("192.0.2.10", "another VM"),  # a bare address: nobody said which VM
])
def test_an_address_another_node_holds_is_refused_naming_its_vm(client, taken, holder):
    addresses = Addresses(client, POOLS, taken=[taken])
    with pytest.raises(ConflictError) as err:
        addresses.assign(nics({"network": "default", "ipv4": "192.0.2.10"}), (), None, addresses.used())
    assert err.value.field == "networks[0].ipv4"
    assert err.value.msg == f"networks[0].ipv4: 192.0.2.10 is in use by {holder}"
    assert addresses.usage()[0]["addresses"] == ["192.0.2.10"]


def test_the_lock_is_the_clusters_when_it_shares_a_store():
    assert lock_path({"shared_dir": "/srv/vmm"}) == "/srv/vmm/locks/ip-pools.lock"
    assert lock_path({}) == "/var/lib/vmm/locks/ip-pools.lock"


def test_routed_ipv6_from_a_pool_or_as_given(client):
    pools = POOLS + [{"name": "routed-v6", "routed": True, "subnet": "2001:db8:66::/64"}]
    addresses = Addresses(client, pools)
    assigned = addresses.assign(nics({"routed": "auto", "ipv6": "auto"}), (), None, {})
    assert [(a["address"], a["prefix"], a["gateway"]) for a in assigned[0]["addresses"]] == [
        ("203.0.113.1", 32, None), ("2001:db8:66::1", 128, None)]
    given = Addresses(client, []).assign(nics({"routed": "203.0.113.9", "ipv6": "2001:db8:77::9"}), (), None, {})
    assert given[0]["source"] == "203.0.113.9"
    assert [(a["address"], a["prefix"], a["pool"]) for a in given[0]["addresses"]] == [("2001:db8:77::9", 128, None)]


def test_placement_reserves_free_of_every_node_and_of_the_creates_under_way():
    networks, taken = reserve_addresses(POOLS, [{"network": "default", "ipv6": "none"}, {"routed": "auto"}],
                                        None, held=["192.0.2.10"], reserved=["192.0.2.11", "203.0.113.1"])
    assert taken == ["192.0.2.12", "203.0.113.2"]
    assert networks == [{"network": "default", "ipv4": "192.0.2.12", "ipv6": "none"},
                        {"routed": "203.0.113.2", "ipv4": "203.0.113.2", "ipv6": "none"}]
    # none asked: the vm module's default NIC, with the pools' addresses
    assert reserve_addresses(POOLS, [], None, [], [])[0] == [
        {"network": "default", "ipv4": "192.0.2.10", "ipv6": "2001:db8:1::2"}]
    # no pools, or nothing a pool serves: the networks as given, nothing reserved
    assert reserve_addresses([], [{"network": "default"}], None, [], []) == ([{"network": "default"}], [])
    assert reserve_addresses(POOLS, [{"network": "other"}], None, [], []) == ([{"network": "other"}], [])
    with pytest.raises(ConflictError) as err:
        reserve_addresses(POOLS, [{"network": "default", "ipv6": "none"}], None, ["192.0.2.10"],
                          ["192.0.2.11", "192.0.2.12"])
    assert err.value.field == "networks[0].ipv4" and "nat-v4 (3 of 3 used)" in err.value.msg
