"""Every kind of seed vmm writes, read by cloud-init itself (Debian 12's cloud-init, installed by scripts/setup):
user-data through `cloud-init schema`, network-config through cloud-init's renderers for ifupdown (ENI, Debian
12's default), systemd-networkd and netplan. The seeds are made by the module's own code path."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.seed import seed_files
from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import (
    normalize_request,
    seed_network_config,
    with_create_defaults,
    with_seed_network,
)

DEBIAN_PYTHON = "/usr/bin/python3"  # Debian's cloud-init is a package of the system Python, not of the venv
RENDER = Path(__file__).with_name("cloud_init_render.py")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2aFbXWg6vKwMJoxyHW0mZ7nH1c3MfJwOZ2j1nE3bJn alice@example"
STATIC = {"version": 2, "ethernets": {"lan": {
    "match": {"macaddress": "52:54:00:12:34:56"}, "set-name": "lan",
    "addresses": ["192.0.2.10/24", "2001:db8::10/64"], "gateway4": "192.0.2.1", "gateway6": "2001:db8::1"}}}


def seed(**overrides):
    """(request, seed files) as vmm.cloud.vm makes them for a new VM."""
    options = {"name": "web1", "vcpus": None, "max_vcpus": None, "memory": None, "max_memory": None,
               "disk_size": None, "networks": None, "console": None, "cloud_init": None, "owner": None,
               "cluster": None, "ha": None, "autostart": None, **overrides}
    request = with_seed_network(with_create_defaults(normalize_request(options)))
    return request, seed_files("00000000-0000-4000-8000-000000000001", request["cloud_init"])


def rendered(network_config):
    out = subprocess.run([DEBIAN_PYTHON, str(RENDER)], input=json.dumps(network_config), capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, f"cloud-init's renderers (apt-get install cloud-init; scripts/setup does): {out.stderr}"
    return json.loads(out.stdout)


def schema_check(tmp_path, files):
    path = tmp_path / "user-data"
    path.write_bytes(files["user-data"])
    return subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True,
                          check=False)


def check_dhcp_nic(out, name, mac):
    """The NIC with `mac` is named `name` and asks DHCP, in what each renderer wrote."""
    for renderer in ("eni", "networkd", "netplan"):
        assert "error" not in out[renderer], (renderer, out[renderer])
    eni = out["eni"]["/etc/network/interfaces"]
    assert f"auto {name}\niface {name} inet dhcp" in eni, eni
    rules = out["eni"]["/etc/udev/rules.d/70-persistent-net.rules"]
    assert f'ATTR{{address}}=="{mac}", NAME="{name}"' in rules, rules
    network = out["networkd"][f"/etc/systemd/network/10-cloud-init-{name}.network"]
    assert f"MACAddress={mac}\nName={name}" in network and "DHCP=ipv4" in network, network
    plan = out["netplan"]["/etc/netplan/50-cloud-init.yaml"]
    assert re.search(rf"{name}:\n\s+dhcp4: true\n\s+match:\n\s+macaddress: '?{mac}'?\n\s+set-name: {name}", plan), plan


def test_a_new_vm_seed_names_its_nic_by_mac_for_every_renderer(tmp_path):
    request, files = seed()
    mac = request["interfaces"][0]["mac"]
    check_dhcp_nic(rendered(json.loads(files["network-config"])), "eth0", mac)
    checked = schema_check(tmp_path, files)
    assert checked.returncode == 0 and "Valid cloud-config" in checked.stdout, checked


def test_several_nics_each_by_its_mac(tmp_path):
    request, files = seed(networks=[{"network": "default"}, {"bridge": "br0"}, {"network": "default",
                                                                                "mac": "52:54:00:aa:bb:cc"}])
    out = rendered(json.loads(files["network-config"]))
    for index, nic in enumerate(request["interfaces"]):
        check_dhcp_nic(out, f"eth{index}", nic["mac"])
    assert request["interfaces"][2]["mac"] == "52:54:00:aa:bb:cc"


def test_a_static_ipv4_and_ipv6_network_config_of_the_users_own(tmp_path):
    _, files = seed(cloud_init={"network_config": STATIC})
    assert json.loads(files["network-config"]) == STATIC
    out = rendered(STATIC)
    eni = out["eni"]["/etc/network/interfaces"]
    assert "iface lan inet static\n    address 192.0.2.10/24\n    gateway 192.0.2.1" in eni, eni
    assert "iface lan inet6 static\n    address 2001:db8::10/64\n    gateway 2001:db8::1" in eni, eni
    network = out["networkd"]["/etc/systemd/network/10-cloud-init-lan.network"]
    assert "Address=192.0.2.10/24" in network and "Address=2001:db8::10/64" in network, network
    assert "Gateway=192.0.2.1" in network and "Gateway=2001:db8::1" in network, network


def test_routed_nic_renders_its_address_and_gateway():
    nics = [{"type": "routed", "source": "203.0.113.5", "mac": "52:54:00:00:00:01", "gateway": "198.51.100.7"}]
    out = rendered(seed_network_config(nics))
    # ifupdown (0.8.41, Debian 12) applies `gateway` as `ip route add default via GW dev IFACE onlink`: the
    # gateway outside the /32 is reached on the link
    eni = out["eni"]["/etc/network/interfaces"]
    assert "iface eth0 inet static\n    address 203.0.113.5/32\n    gateway 198.51.100.7" in eni, eni
    assert "route add default" not in eni, eni  # net-tools, absent from minimal Debian, and without onlink
    # systemd-networkd: cloud-init writes Gateway= without GatewayOnLink=, and networkd sets that itself only
    # when no static address is set; the link route to the gateway makes it reachable
    network = out["networkd"]["/etc/systemd/network/10-cloud-init-eth0.network"]
    assert "Address=203.0.113.5/32" in network and "[Route]\nGateway=198.51.100.7" in network, network
    assert "[Route]\nDestination=198.51.100.7/32" in network, network
    plan = out["netplan"]["/etc/netplan/50-cloud-init.yaml"]
    assert "gateway4: 198.51.100.7" in plan and "to: 198.51.100.7/32" in plan, plan


@pytest.mark.parametrize("cloud_init", [
    {"hostname": "web1", "fqdn": "web1.example.org"},
    {"hostname": "web1", "password": "{{ not a template }} 's3cret\"", "ssh_authorized_keys": [KEY]},
    {"hostname": "web1", "user_data": {"packages": ["nginx"], "runcmd": [["touch", "/tmp/x"]], "timezone": "UTC"}},
])
def test_user_data_is_valid_cloud_config(tmp_path, cloud_init):
    _, files = seed(cloud_init=cloud_init)
    checked = schema_check(tmp_path, files)
    assert checked.returncode == 0 and "Valid cloud-config" in checked.stdout, (checked.stdout, checked.stderr)


def test_the_checks_catch_what_they_are_for(tmp_path):
    # the seed every VM had before: a NIC id `nics` matched by name, which ENI renders as `iface nics`
    old = {"version": 2, "ethernets": {"nics": {"match": {"name": "e*"}, "dhcp4": True}}}
    with pytest.raises(AssertionError):
        check_dhcp_nic(rendered(old), "eth0", "52:54:00:00:00:01")
    assert "iface nics inet dhcp" in rendered(old)["eni"]["/etc/network/interfaces"]
    _, files = seed(cloud_init={"hostname": "web1", "user_data": {"packages": "nginx"}})
    checked = schema_check(tmp_path, files)
    assert checked.returncode != 0 and "packages" in checked.stdout + checked.stderr, checked



def test_pool_addresses_render_static_with_gateway_and_dns_for_every_renderer(tmp_path):
    held = [{"address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1", "dns": ["192.0.2.53"], "version": 4},
            {"address": "2001:db8::10", "prefix": 64, "gateway": "2001:db8::1", "dns": ["2001:db8::53"],
             "version": 6}]
    only_v6 = [held[1]]
    nics = [{"type": "network", "source": "default", "mac": "52:54:00:00:00:01", "addresses": held},
            {"type": "bridge", "source": "br0", "mac": "52:54:00:00:00:02", "addresses": only_v6}]
    config = seed_network_config(nics)
    assert config["ethernets"]["eth0"] == {
        "match": {"macaddress": "52:54:00:00:00:01"}, "set-name": "eth0",
        "addresses": ["192.0.2.10/24", "2001:db8::10/64"], "gateway4": "192.0.2.1", "gateway6": "2001:db8::1",
        "nameservers": {"addresses": ["192.0.2.53", "2001:db8::53"]}}
    assert config["ethernets"]["eth1"]["dhcp4"] is True  # an IPv6 address alone: IPv4 still from DHCP
    out = rendered(config)
    for renderer in ("eni", "networkd", "netplan"):
        assert "error" not in out[renderer], (renderer, out[renderer])
    eni = out["eni"]["/etc/network/interfaces"]
    assert "iface eth0 inet static\n    address 192.0.2.10/24\n    dns-nameservers 192.0.2.53 2001:db8::53\n" \
           "    gateway 192.0.2.1" in eni, eni
    assert "iface eth0 inet6 static\n    address 2001:db8::10/64" in eni and "gateway 2001:db8::1" in eni, eni
    assert "iface eth1 inet dhcp" in eni and "iface eth1 inet6 static" in eni, eni
    network = out["networkd"]["/etc/systemd/network/10-cloud-init-eth0.network"]
    assert "Address=192.0.2.10/24" in network and "Address=2001:db8::10/64" in network, network
    assert "Gateway=192.0.2.1" in network and "Gateway=2001:db8::1" in network, network
    assert "DNS=192.0.2.53 2001:db8::53" in network, network


def test_routed_ipv6_is_a_128_through_the_taps_link_local_gateway():
    nics = [{"type": "routed", "source": "203.0.113.5", "mac": "52:54:00:00:00:01", "gateway": "198.51.100.7",
             "addresses": [{"address": "2001:db8:66::5", "prefix": 128, "version": 6, "gateway": None}]}]
    config = seed_network_config(nics)
    assert config["ethernets"]["eth0"]["addresses"] == ["203.0.113.5/32", "2001:db8:66::5/128"]
    assert config["ethernets"]["eth0"]["gateway6"] == "fe80::1"
    out = rendered(config)
    eni = out["eni"]["/etc/network/interfaces"]
    assert "iface eth0 inet6 static\n    address 2001:db8:66::5/128\n    gateway fe80::1" in eni, eni
    network = out["networkd"]["/etc/systemd/network/10-cloud-init-eth0.network"]
    assert "Address=2001:db8:66::5/128" in network and "Gateway=fe80::1" in network, network


def test_a_pool_nic_after_a_dhcp_nic_leaves_the_ipv4_default_route_to_it():
    """ifupdown brings eth0 up on DHCP (default route), then eth1: a `gateway` there would fail with
    `RTNETLINK answers: File exists` and take eth1's IPv6 stanza down with it (seen on a Debian 12 guest)."""
    held = [{"address": "10.77.0.10", "prefix": 24, "gateway": "10.77.0.1", "dns": ["10.77.0.1"], "version": 4},
            {"address": "fd77::10", "prefix": 64, "gateway": "fd77::1", "dns": [], "version": 6}]
    nics = [{"type": "network", "source": "default", "mac": "52:54:00:00:00:01"},
            {"type": "network", "source": "pools", "mac": "52:54:00:00:00:02", "addresses": held}]
    out = rendered(seed_network_config(nics))
    for renderer in ("eni", "networkd", "netplan"):
        assert "error" not in out[renderer], (renderer, out[renderer])
    eni = out["eni"]["/etc/network/interfaces"]
    static = eni.split("iface eth1 inet static\n", 1)[1].split("\n\n", 1)[0]
    assert "address 10.77.0.10/24" in static and "dns-nameservers 10.77.0.1" in static, eni
    assert "gateway" not in static, eni
    assert "iface eth1 inet6 static\n    address fd77::10/64\n    gateway fd77::1" in eni, eni
    network = out["networkd"]["/etc/systemd/network/10-cloud-init-eth1.network"]
    assert "Gateway=fd77::1" in network and "Gateway=10.77.0.1" not in network, network
