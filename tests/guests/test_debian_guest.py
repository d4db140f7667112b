"""The NoCloud seed vmm writes, applied by a real Debian 12 cloud-init (ifupdown and networkd variants).

Every check reads the guest from the host side: the serial console log,
libvirt's DHCP leases and the QEMU guest agent.
"""

from __future__ import annotations

import json
import re
import time

import libvirt

from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from tests.integration.ansible_run import run_task

ACPI_GRACE = 30  # seconds the guest is given to act on its ACPI power button


def newest_lease(conn, mac):
    """The newest IPv4 lease of the default network for `mac` (dnsmasq keeps older ones)."""
    leases = [lease for lease in conn.networkLookupByName("default").DHCPLeases()
              if lease["mac"].lower() == mac and lease["type"] == libvirt.VIR_IP_ADDR_TYPE_IPV4]
    assert leases, f"no DHCP lease for {mac}"
    return max(leases, key=lambda lease: lease["expirytime"])


def test_hostname_and_fqdn_from_the_seed(guest):
    assert guest.output("hostname").strip() == guest.hostname
    assert guest.output("hostname -f").strip() == guest.fqdn


def test_dhcp_address_on_the_default_network(guest, conn):
    newest = newest_lease(conn, guest.mac)
    addresses = guest.output("ip -o -4 addr show dev eth0")
    assert f"inet {newest['ipaddr']}/" in addresses and " dynamic " in addresses, addresses


def test_static_addresses_from_the_network_config(guest):
    addresses = guest.output("ip -o addr show dev eth0")
    assert f"inet {guest.ipv4}/24" in addresses, addresses
    assert f"inet6 {guest.ipv6}/64" in addresses, addresses
    assert guest.output("cat /sys/class/net/eth0/address").strip() == guest.mac


def test_ssh_host_keys_generated_at_first_boot(guest):
    console = guest.console()
    block = re.search(r"-----BEGIN SSH HOST KEY FINGERPRINTS-----(.*?)-----END SSH HOST KEY FINGERPRINTS-----",
                      console, re.S)
    assert block, "no SSH host key fingerprints on the console"
    fingerprint = guest.output("ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub").split()[1]
    assert fingerprint in block.group(1), (fingerprint, block.group(1))
    keys = guest.output("ls /etc/ssh").split()
    assert {"ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"} <= set(keys), keys


def test_authorized_key_and_password_of_the_default_user(guest):
    assert guest.ssh_public_key in guest.output("cat /home/debian/.ssh/authorized_keys")
    password = guest.output("getent shadow debian").split(":")[1]
    assert password and password[0] not in "!*", password


def test_cloud_init_done_without_errors(guest):
    code, out, err = guest.run("cloud-init status --long")
    assert code == 0 and "status: done" in out, (code, out, err)
    result = json.loads(guest.output("cat /run/cloud-init/result.json"))
    assert result["v1"]["errors"] == [], result
    log = guest.output("cat /var/log/cloud-init.log")
    assert "Traceback" not in log
    warnings = [line for line in log.splitlines()
                if "WARNING" in line and re.search(r"net|interface|eni|renderer", line, re.I)]
    assert warnings == []


def test_network_rendered_for_the_variant(guest):
    rendered = {"ifupdown": ("eni", "/etc/network/interfaces.d/50-cloud-init"),
                "networkd": ("networkd", "/etc/systemd/network/10-cloud-init-eth0.network")}
    renderer, path = rendered[guest.variant]
    assert f"Selected renderer '{renderer}'" in guest.output("cat /var/log/cloud-init.log")
    assert guest.ipv4 in guest.output(f"cat {path}")


def test_vmm_sees_the_guest_agent_and_the_address(guest):
    info = run_task("vmm.cloud.vm_info", {"name": guest.name})
    vm = info["vms"][0]
    assert vm["guest_agent"] == {"channel": True, "connected": True}, vm
    addresses = guest.output("ip -o -4 addr show dev eth0")
    assert vm["interfaces"][0]["mac"] == guest.mac and vm["interfaces"][0]["ip"] in addresses, vm["interfaces"]
    # The static addresses are in no lease: only the guest agent can have told vmm of them.
    assert {guest.ipv4, guest.ipv6} <= set(vm["interfaces"][0]["ips"]), vm["interfaces"]
    assert {guest.ipv4, guest.ipv6} <= set(vm["ips"]), vm["ips"]


def test_vmm_freezes_the_guest_filesystems_through_the_agent(guest):
    client = LibvirtClient("qemu:///system")
    try:
        dom = client.find_domain(guest.name)
        with client.quiesced(dom) as frozen:
            assert frozen >= 1
            assert guest.agent("guest-fsfreeze-status") == "frozen"
        assert guest.agent("guest-fsfreeze-status") == "thawed"
        assert guest.output("touch /var/tmp/after-thaw && echo written").strip() == "written"
    finally:
        client.close()


def test_vmm_own_seed_gives_the_nic_its_dhcp_address(vmm_seed_guest, conn):
    """The case of the issue: no network_config of the VM's own. ENI once rendered vmm's default as
    `iface nics` and the guest got no address; now the NIC vmm pinned is eth0 with its lease."""
    guest = vmm_seed_guest
    assert len(guest.macs) == 2
    info = run_task("vmm.cloud.vm_info", {"name": guest.name})["vms"][0]
    assert info["guest_agent"]["connected"], info
    for index, mac in enumerate(guest.macs):  # eth0 and eth1, each named and addressed by its own MAC
        assert guest.output(f"cat /sys/class/net/eth{index}/address").strip() == mac
        newest = newest_lease(conn, mac)
        addresses = guest.output(f"ip -o -4 addr show dev eth{index}")
        assert f"inet {newest['ipaddr']}/" in addresses, addresses
        assert info["interfaces"][index]["mac"] == mac and info["interfaces"][index]["ip"] == newest["ipaddr"], info
    assert guest.output("hostname").strip() == guest.hostname
    code, out, err = guest.run("cloud-init status --long")
    assert code == 0 and "status: done" in out, (code, out, err)


def test_vmm_routed_seed_gives_a_32_and_a_default_route(routed_guest):
    """What vmm writes for a routed NIC: the /32 and a default route through a gateway outside it, on both
    renderers (ifupdown adds it onlink; systemd-networkd reaches it through the link route to the gateway)."""
    guest = routed_guest
    assert f"inet {guest.ipv4}/32 " in guest.output("ip -o -4 addr show dev eth0")
    routes = guest.output("ip -4 route show")
    assert re.search(r"^default via 192\.168\.122\.1 dev eth0\b", routes, re.M), routes
    code, out, err = guest.run("cloud-init status --long")
    assert code == 0 and "status: done" in out, (code, out, err)


def test_vmm_shuts_the_guest_down_through_its_agent(routed_guest):
    """The guest's logind is told to ignore the ACPI power button (the test presses it and sees the guest
    stay up), so only the guest agent can stop it gracefully."""
    guest = routed_guest
    guest.output("mkdir -p /etc/systemd/logind.conf.d && printf '[Login]\\nHandlePowerKey=ignore\\n' "
                 "> /etc/systemd/logind.conf.d/vmm-test.conf && systemctl restart systemd-logind")
    guest.dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
    time.sleep(ACPI_GRACE)
    assert guest.dom.isActive(), "the guest obeyed its power button: this test proves nothing"
    stopped = run_task("vmm.cloud.vm", {"name": guest.name, "state": "stopped", "shutdown_timeout": 300})
    assert stopped["changed"] and stopped["vm"]["state"] == "shutoff", stopped
    assert stopped["shutdown"] == "graceful" and stopped["shutdown_through"] == "guest_agent", stopped
    assert "reboot: Power down" in guest.console()
