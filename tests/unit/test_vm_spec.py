"""vmm.cloud.vm options -> spec, by tables."""

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    GIB,
    managed_view,
    normalize_request,
    seed_network_config,
    updated_spec,
    view_changes,
    with_create_defaults,
    with_seed_network,
)


def params(**overrides):
    base = {"name": "web1", "vcpus": None, "max_vcpus": None, "memory": None, "max_memory": None,
            "disk_size": None, "networks": None, "console": None, "cloud_init": None, "owner": None,
            "cluster": None, "ha": None, "autostart": None}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "a/b"}, "name"),
        ({"name": "../etc"}, "name"),
        ({"name": "a..b"}, "name"),
        ({"name": "web'1"}, "name"),
        ({"name": 'web"1'}, "name"),
        ({"name": "<x>"}, "name"),
        ({"name": "web 1"}, "name"),
        ({"name": "web;reboot"}, "name"),
        ({"name": "web1\n"}, "name"),  # `$` alone would let a trailing newline through
        ({"networks": [{"bridge": "br0\n"}]}, "networks[0].bridge"),
        ({"networks": [{"network": "default", "mac": "52:54:00:12:34:56\n"}]}, "networks[0].mac"),
        ({"cloud_init": {"hostname": "web1\n"}}, "cloud_init.hostname"),
        ({"name": "$(id)"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": ""}, "name"),
        ({"memory": 0}, "memory"),
        ({"memory": 8}, "memory"),
        ({"vcpus": 0}, "vcpus"),
        ({"vcpus": 4, "max_vcpus": 2}, "max_vcpus"),
        ({"memory": 1024, "max_memory": 512}, "max_memory"),
        ({"disk_size": 0}, "disk_size"),
        ({"disk_size": -3}, "disk_size"),
        ({"networks": [{}]}, "networks[0]"),
        ({"networks": [{"network": "default", "bridge": "br0"}]}, "networks[0]"),
        ({"networks": [{"network": "default", "routed": "203.0.113.5"}]}, "networks[0]"),
        ({"networks": [{"routed": "203.0.113.300"}]}, "networks[0].routed"),
        ({"networks": [{"routed": "2001:db8::5"}]}, "networks[0].routed"),
        ({"networks": [{"routed": "0.0.0.0"}]}, "networks[0].routed"),
        ({"networks": [{"routed": "10.0.0.1; reboot"}]}, "networks[0].routed"),
        ({"networks": [{"network": "default"}, {"bridge": "br0; rm"}]}, "networks[1].bridge"),
        ({"networks": [{"network": "default", "mac": "zz:00:00:00:00:00"}]}, "networks[0].mac"),
        ({"networks": [{"network": "default", "model": "ne2k"}]}, "networks[0].model"),
        ({"cloud_init": {"hostname": "bad_host!"}}, "cloud_init.hostname"),
        ({"cloud_init": {"ssh_authorized_keys": ["not a key"]}}, "cloud_init.ssh_authorized_keys[0]"),
        ({"cloud_init": {"network_config": "dhcp"}}, "cloud_init.network_config"),
        ({"console": {"type": "vnc", "listen": "0.0.0.0; x"}}, "console.listen"),
        ({"console": {"type": "spice"}}, "console.type"),
        ({"owner": "alice<script>"}, "owner"),
        ({"pool": "../vmm"}, "pool"),
        ({"machine": "pc;id"}, "machine"),
        ({"state": "gone"}, "state"),
        ({"clone": "thin"}, "clone"),
        ({"domain_type": "xen"}, "domain_type"),
        ({"shutdown_timeout": -1}, "shutdown_timeout"),
        ({"wait_timeout": 0}, "wait_timeout"),
    ],
)
def test_bad_input_names_the_field(overrides, field):
    with pytest.raises(ValidationError) as err:
        normalize_request(params(**overrides))
    assert err.value.field == field
    assert err.value.msg.startswith(field + ":") or err.value.msg.startswith(field.split(".")[0])


def test_unset_options_stay_unset_until_create():
    request = normalize_request(params())
    assert request["vcpus"] is None and request["interfaces"] is None and request["cloud_init"] is None
    created = with_create_defaults(request)
    assert created["vcpus"] == 1 and created["max_vcpus"] == 1
    assert created["memory_mib"] == 512 and created["max_memory_mib"] == 512
    assert created["interfaces"] == [{"type": "network", "source": "default", "mac": None, "model": "virtio",
                                      "ipv4": None, "ipv6": None}]
    assert created["graphics"] == {"type": "vnc", "listen": "127.0.0.1", "port": None, "password": None}
    assert created["cloud_init"]["hostname"] == "web1"


def test_the_request_holds_how_the_run_goes_with_the_modules_defaults():
    request = normalize_request(params())
    assert {k: request[k] for k in ("state", "image", "clone", "pool", "machine", "domain_type", "keep_owner",
                                    "shutdown_timeout", "wait_for_ip", "wait_timeout")} == {
        "state": "present", "image": None, "clone": "overlay", "pool": "vmm", "machine": "pc", "domain_type": "auto",
        "keep_owner": False, "shutdown_timeout": 120, "wait_for_ip": False, "wait_timeout": 60}
    assert normalize_request(params(state="absent", shutdown_timeout=0))["shutdown_timeout"] == 0


def test_the_default_hostname_of_a_name_ending_in_an_underscore():
    assert normalize_request(params(name="web_1_", cloud_init={}))["cloud_init"]["hostname"] == "web-1"


def test_disk_size_in_bytes_and_hostname_from_name():
    request = normalize_request(params(name="db_main", disk_size=3))
    assert request["disk_size_bytes"] == 3 * GIB
    assert with_create_defaults(request)["cloud_init"]["hostname"] == "db-main"


CURRENT = {
    "name": "web1", "uuid": "u-1", "machine": "pc", "arch": "x86_64", "domain_type": "qemu",
    "vcpus": 2, "max_vcpus": 4, "memory_mib": 1024, "max_memory_mib": 2048,
    "disks": [{"path": "/d/web1.qcow2"}], "serial_log": "/l/web1.log",
    "interfaces": [{"type": "network", "source": "default", "mac": "52:54:00:aa:bb:cc", "model": "virtio"}],
    "graphics": {"type": "vnc", "listen": "127.0.0.1", "port": 5900, "password": None},
    "metadata": {"owner": "alice", "image": "img", "created": "t", "cluster": None, "ips": [],
                 "seed_sha256": "abc", "ha": False, "managed_disks": ["/d/web1.qcow2"]},
}


@pytest.mark.parametrize(
    ("overrides", "changed"),
    [
        ({}, []),                                             # nothing asked: nothing changes
        ({"vcpus": 2, "memory": 1024}, []),
        ({"vcpus": 3}, ["vcpus"]),
        ({"vcpus": 6}, ["vcpus", "max_vcpus"]),
        ({"memory": 4096}, ["memory", "max_memory"]),
        ({"owner": "bob"}, ["owner"]),
        ({"networks": [{"network": "default"}]}, []),         # unpinned MAC keeps libvirt's
        ({"networks": [{"network": "default", "mac": "52:54:00:aa:bb:cd"}]}, ["interfaces"]),
        ({"networks": [{"bridge": "br0"}]}, ["interfaces"]),
        ({"console": {"type": "none"}}, ["console"]),
        ({"console": {"type": "vnc", "listen": "0.0.0.0"}}, ["console"]),
    ],
)
def test_update_changes(overrides, changed):
    request = normalize_request(params(**overrides))
    spec = updated_spec(CURRENT, request, domain_type=None, seed_sha256=None)
    assert view_changes(managed_view(CURRENT), managed_view(spec)) == changed


def test_update_keeps_identity():
    spec = updated_spec(CURRENT, normalize_request(params(vcpus=1)), domain_type="kvm", seed_sha256="new")
    assert spec["uuid"] == "u-1" and spec["disks"] == CURRENT["disks"]
    assert spec["max_vcpus"] == 4          # lowering vcpus keeps the hot-plug headroom
    assert spec["domain_type"] == "kvm"
    assert spec["metadata"]["seed_sha256"] == "new" and spec["metadata"]["created"] == "t"


def test_routed_nic_and_its_seed():
    request = normalize_request(params(networks=[{"routed": "203.0.113.5"}, {"network": "default"}]))
    assert request["interfaces"][0] == {"type": "routed", "source": "203.0.113.5", "mac": None, "model": "virtio",
                                        "ipv4": "203.0.113.5", "ipv6": None}
    nics = [dict(request["interfaces"][0], mac="52:54:00:00:00:01", gateway="198.51.100.7"),
            dict(request["interfaces"][1], mac="52:54:00:00:00:02")]
    assert seed_network_config(nics) == {"version": 2, "ethernets": {
        "eth0": {"match": {"macaddress": "52:54:00:00:00:01"}, "set-name": "eth0", "addresses": ["203.0.113.5/32"],
                 "gateway4": "198.51.100.7",
                 "routes": [{"to": "198.51.100.7/32", "via": "0.0.0.0", "scope": "link"}]},
        "eth1": {"match": {"macaddress": "52:54:00:00:00:02"}, "set-name": "eth1", "dhcp4": True},
    }}


POOL_V4 = {"address": "10.77.0.10", "prefix": 24, "gateway": "10.77.0.1", "dns": [], "version": 4}
POOL_V4_B = {"address": "10.78.0.10", "prefix": 24, "gateway": "10.78.0.1", "dns": [], "version": 4}
POOL_V4_NO_GATEWAY = {"address": "10.79.0.10", "prefix": 24, "gateway": None, "dns": [], "version": 4}
POOL_V6 = {"address": "fd77::10", "prefix": 64, "gateway": "fd77::1", "dns": [], "version": 6}
DHCP_NIC = {"type": "network", "source": "default"}
ROUTED_NIC = {"type": "routed", "source": "203.0.113.5", "gateway": "198.51.100.7"}


def pool_nic(*held):
    return {"type": "network", "source": "pools", "addresses": list(held)}


@pytest.mark.parametrize(("nics", "gateway4", "gateway6"), [
    ([pool_nic(POOL_V4, POOL_V6)], ["10.77.0.1"], ["fd77::1"]),
    # DHCP first: its network hands out the default route, a second one would fail ifupdown's whole eth1
    ([DHCP_NIC, pool_nic(POOL_V4, POOL_V6)], [None, None], [None, "fd77::1"]),
    ([pool_nic(POOL_V4, POOL_V6), DHCP_NIC], ["10.77.0.1", None], ["fd77::1", None]),
    ([pool_nic(POOL_V4), pool_nic(POOL_V4_B)], ["10.77.0.1", None], [None, None]),
    ([pool_nic(POOL_V4_NO_GATEWAY), pool_nic(POOL_V4_B)], [None, "10.78.0.1"], [None, None]),
    ([pool_nic(POOL_V6), pool_nic(POOL_V4)], [None, None], ["fd77::1", None]),  # the first on DHCP for IPv4
    ([ROUTED_NIC, pool_nic(POOL_V4)], ["198.51.100.7", None], [None, None]),
])
def test_the_ipv4_default_route_goes_through_the_first_nic_that_has_one(nics, gateway4, gateway6):
    nics = [dict(nic, mac=f"52:54:00:00:00:0{i}") for i, nic in enumerate(nics)]
    ethernets = seed_network_config(nics)["ethernets"]
    assert [ethernets[f"eth{i}"].get("gateway4") for i in range(len(nics))] == gateway4
    assert [ethernets[f"eth{i}"].get("gateway6") for i in range(len(nics))] == gateway6
    for i, nic in enumerate(nics):  # a pool NIC keeps its addresses, whatever happens to its gateway
        if nic.get("addresses"):
            assert ethernets[f"eth{i}"]["addresses"] == [f"{a['address']}/{a['prefix']}" for a in nic["addresses"]]


def test_every_nic_gets_a_pinned_mac_and_the_seed_matches_it():
    request = with_seed_network(with_create_defaults(normalize_request(params(
        networks=[{"network": "default"}, {"bridge": "br0", "mac": "52:54:00:aa:bb:cc"}]))))
    first, second = request["interfaces"]
    assert first["mac"].startswith("52:54:00:") and second["mac"] == "52:54:00:aa:bb:cc"
    assert request["cloud_init"]["network_config"] == {"version": 2, "ethernets": {
        "eth0": {"match": {"macaddress": first["mac"]}, "set-name": "eth0", "dhcp4": True},
        "eth1": {"match": {"macaddress": "52:54:00:aa:bb:cc"}, "set-name": "eth1", "dhcp4": True}}}


def test_an_update_keeps_the_macs_the_vm_has_and_a_network_config_of_the_users_own():
    current = [{"type": "network", "source": "default", "mac": "52:54:00:00:00:09", "model": "virtio"}]
    request = with_seed_network(normalize_request(params(cloud_init={"hostname": "web1"})), current)
    assert request["interfaces"] is None  # the NICs stay as they are
    assert request["cloud_init"]["network_config"]["ethernets"]["eth0"]["match"] == {"macaddress": "52:54:00:00:00:09"}
    own = {"version": 2, "ethernets": {"lan": {"match": {"macaddress": "52:54:00:00:00:09"}, "dhcp6": True}}}
    request = with_seed_network(normalize_request(params(cloud_init={"hostname": "web1", "network_config": own})),
                                current)
    assert request["cloud_init"]["network_config"] == own
    request = with_seed_network(normalize_request(params(networks=[{"network": "default"}, {"network": "b"}])),
                                current)
    assert request["interfaces"][0]["mac"] == "52:54:00:00:00:09" and request["interfaces"][1]["mac"]
