"""The NoCloud seed vmm writes, applied by a real Debian 12 cloud-init (ifupdown and networkd variants).

Every check reads the guest from the host side: the serial console log,
libvirt's DHCP leases and the QEMU guest agent; the anti-spoofing checks also
read the node's nwfilter bindings and its neighbour table on the pools' bridge.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import subprocess
import threading
import time

import libvirt
import pytest
from lxml import etree

from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from tests.guests.conftest import POOL4, POOL6, POOLS_BRIDGE, POOLS_GATEWAY4, POOLS_GATEWAY6, POOLS_NETWORK, booted
from tests.integration.ansible_run import run_task

ACPI_GRACE = 30  # seconds the guest is given to act on its ACPI power button
# Addresses in the pools' subnets that no VM holds, one pair per variant (the control teaches the node each).
FOREIGN = {"ifupdown": ("10.77.0.99", "fd77::99"), "networkd": ("10.77.0.98", "fd77::98")}


def newest_lease(conn, mac):
    """The newest IPv4 lease of the default network for `mac` (dnsmasq keeps older ones)."""
    leases = [lease for lease in conn.networkLookupByName("default").DHCPLeases()
              if lease["mac"].lower() == mac and lease["type"] == libvirt.VIR_IP_ADDR_TYPE_IPV4]
    assert leases, f"no DHCP lease for {mac}"
    return max(leases, key=lambda lease: lease["expirytime"])


def pool_addresses(guest):
    """(IPv4, IPv6) that vm_info says eth1 holds from the pools, checked against the pools."""
    nic = run_task("vmm.cloud.vm_info", {"name": guest.name})["vms"][0]["interfaces"][1]
    assert nic["network"] == POOLS_NETWORK and nic["mac"] == guest.macs[1], nic
    held = nic["addresses"]
    assert [(a["prefix"], a["gateway"], a["pool"]) for a in held] == [
        (24, POOLS_GATEWAY4, POOL4["name"]), (64, POOLS_GATEWAY6, POOL6["name"])], held
    own4, own6 = held[0]["address"], held[1]["address"]
    assert ipaddress.ip_address("10.77.0.10") <= ipaddress.ip_address(own4) <= ipaddress.ip_address("10.77.0.20")
    assert ipaddress.ip_address("fd77::10") <= ipaddress.ip_address(own6) <= ipaddress.ip_address("fd77::20")
    return own4, own6


def wait_for_dad(guest, timeout=30):
    """Until no IPv6 address of eth1 is tentative (a ping from it would fail before)."""
    deadline = time.monotonic() + timeout
    while guest.output("ip -6 addr show dev eth1 tentative").strip():
        assert time.monotonic() < deadline, guest.output("ip -6 addr show dev eth1")
        time.sleep(1)
    assert "dadfailed" not in guest.output("ip -6 addr show dev eth1")


def ping(guest, source, target):
    """Exit code of two pings from the guest, sent from `source`."""
    return guest.run(f"ping -c 2 -W 2 -I {source} {target}")[0]


def host_neighbours():
    """Addresses the node's neighbour table holds on the pools' bridge."""
    out = subprocess.run(["ip", "neigh", "show", "dev", POOLS_BRIDGE], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def live_interface(dom, mac):
    """The running domain's <interface> with `mac`."""
    root = etree.fromstring(dom.XMLDesc(0).encode())
    return next(nic for nic in root.findall("devices/interface") if nic.find("mac").get("address") == mac)


def filter_binding(conn, tap):
    """{filter, mac, parameters} of the nwfilter binding of tap device `tap`, or None."""
    for binding in conn.listAllNWFilterBindings(0):
        if binding.portDev() == tap:
            root = etree.fromstring(binding.XMLDesc(0).encode())
            filterref = root.find("filterref")
            return {"filter": filterref.get("filter"), "mac": root.find("mac").get("address"),
                    "parameters": [(p.get("name"), p.get("value")) for p in filterref.findall("parameter")]}
    return None


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


def test_snapshot_revert_takes_back_a_file_written_after_it(guest, conn):
    """A running guest's snapshot with its memory; the file written after it is gone after the revert, and the
    guest runs on from the snapshot (its agent answers, its boot id is the same)."""
    boot_id = guest.output("cat /proc/sys/kernel/random/boot_id").strip()
    taken = run_task("vmm.cloud.vm_snapshot", {"vm": guest.name, "name": "rg-before"})
    assert taken["changed"] is True and taken["snapshot"]["memory"] is True, taken
    guest.output("echo after > /var/tmp/after-snapshot && sync")
    assert guest.output("cat /var/tmp/after-snapshot").strip() == "after"

    reverted = run_task("vmm.cloud.vm_snapshot", {"vm": guest.name, "name": "rg-before", "state": "restored"})
    assert reverted["changed"] is True and reverted["vm"]["state"] == "running", reverted
    deadline = time.monotonic() + 60
    while True:  # the agent's channel comes back with the restored guest
        try:
            code, _out, _err = guest.run("test -e /var/tmp/after-snapshot")
            break
        except libvirt.libvirtError:
            assert time.monotonic() < deadline, "the guest agent did not answer after the revert"
            time.sleep(1)
    assert code == 1  # the file is not there
    assert guest.output("cat /proc/sys/kernel/random/boot_id").strip() == boot_id  # not rebooted: restored
    assert run_task("vmm.cloud.vm_snapshot", {"vm": guest.name, "name": "rg-before", "state": "absent"})["changed"]
    assert conn.lookupByName(guest.name).snapshotNum(0) == 0


def test_backup_of_the_running_guest_is_frozen_and_reports_its_progress(guest, tmp_path):
    """The guest keeps running; its agent freezes the filesystems while the backup begins; the store's progress
    file climbs while qemu-img reads the disk."""
    store = tmp_path / "backups"
    seen = []
    done = threading.Event()

    def watch():
        progress = store / guest.name / ".b1.progress"
        while not done.is_set():
            try:
                seen.append(json.loads(progress.read_text())["percent"])
            except (OSError, ValueError):
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        taken = run_task("vmm.cloud.vm_backup", {"vm": guest.name, "backup": "b1", "store": str(store)})
    finally:
        done.set()
        watcher.join()
    assert taken["changed"] is True and taken["consistency"] == "frozen", taken
    assert taken["vm"]["state"] == "running" and guest.agent("guest-fsfreeze-status") == "thawed"
    assert len(set(seen)) >= 2 and max(seen) > 0, seen  # it moved while it ran
    assert not (store / guest.name / ".b1.progress").exists()
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=store / guest.name / "b1", capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check


def test_vmm_own_seed_gives_the_nic_its_dhcp_address(vmm_seed_guest, conn):
    """The case of the issue: no network_config of the VM's own. ENI once rendered vmm's default as
    `iface nics` and the guest got no address; now the NIC vmm pinned is eth0 with its lease."""
    guest = vmm_seed_guest
    assert len(guest.macs) == 2
    info = run_task("vmm.cloud.vm_info", {"name": guest.name})["vms"][0]
    assert info["guest_agent"]["connected"], info
    for index, mac in enumerate(guest.macs):  # eth0 and eth1, each named by its own MAC
        assert guest.output(f"cat /sys/class/net/eth{index}/address").strip() == mac
    newest = newest_lease(conn, guest.macs[0])
    addresses = guest.output("ip -o -4 addr show dev eth0")
    assert f"inet {newest['ipaddr']}/" in addresses, addresses
    assert info["interfaces"][0]["mac"] == guest.macs[0] and info["interfaces"][0]["ip"] == newest["ipaddr"], info
    assert info["interfaces"][0]["addresses"] == [], info["interfaces"]  # ipv4/ipv6: none, DHCP
    assert guest.output("hostname").strip() == guest.hostname
    code, out, err = guest.run("cloud-init status --long")
    assert code == 0 and "status: done" in out, (code, out, err)
    # networking.service failed when eth1's gateway met eth0's DHCP default route (ifupdown)
    assert guest.output("systemctl --failed --no-legend --plain").strip() == ""


def test_vmm_own_seed_gives_the_pool_nic_its_addresses(vmm_seed_guest):
    """eth1 on `rg-pools` holds an IPv4 and an IPv6 address from the pools, written into the seed by vmm: exactly
    those, with the pools' prefixes, the IPv6 gateway (the IPv4 default route stays with eth0's DHCP: vmm gives it
    to the first NIC that has one), the pool's DNS server, and the node answers from both."""
    guest = vmm_seed_guest
    own4, own6 = pool_addresses(guest)
    wait_for_dad(guest)
    addresses = guest.output("ip -o addr show dev eth1 scope global")
    assert sorted(re.findall(r"\binet6? (\S+)", addresses)) == sorted([f"{own4}/24", f"{own6}/64"]), addresses
    assert " dynamic " not in addresses, addresses
    assert guest.output("cat /sys/class/net/eth1/address").strip() == guest.macs[1]

    routes4, routes6 = guest.output("ip -4 route show dev eth1"), guest.output("ip -6 route show dev eth1")
    assert re.search(rf"^10\.77\.0\.0/24 proto kernel scope link src {re.escape(own4)}\b", routes4, re.M), routes4
    assert "default" not in routes4, routes4
    assert re.search(r"^default via 192\.168\.122\.1 dev eth0\b", guest.output("ip -4 route show"), re.M)
    assert re.search(r"^fd77::/64 proto kernel\b", routes6, re.M), routes6
    assert re.search(rf"^default via {POOLS_GATEWAY6}\b", routes6, re.M), routes6

    if guest.variant == "ifupdown":  # no resolvconf: ENI names the server, eth0's dhclient fills resolv.conf
        eni = guest.output("cat /etc/network/interfaces.d/50-cloud-init")
        stanza = eni.split("iface eth1 inet static\n", 1)[1].split("\n\n", 1)[0]
        assert f"address {own4}/24" in stanza and f"dns-nameservers {POOLS_GATEWAY4}" in stanza, eni
        assert f"iface eth1 inet6 static\n    address {own6}/64\n    gateway {POOLS_GATEWAY6}" in eni, eni
    else:  # no systemd-resolved: networkd holds the server for the link
        network = guest.output("cat /etc/systemd/network/10-cloud-init-eth1.network")
        assert f"DNS={POOLS_GATEWAY4}" in network and f"Gateway={POOLS_GATEWAY6}" in network, network
        status = guest.output("networkctl status eth1 --no-pager")
        assert re.search(rf"DNS: {re.escape(POOLS_GATEWAY4)}\b", status), status

    assert ping(guest, own4, POOLS_GATEWAY4) == 0
    assert ping(guest, own6, POOLS_GATEWAY6) == 0


def test_anti_spoofing_drops_what_the_pool_nic_sends_from_another_address(vmm_seed_guest, conn):
    """eth1's tap is bound to vmm-clean-traffic with the pool addresses: an address added in the guest (held by no
    VM) reaches nothing, not even the node's neighbour table, while the pool addresses do. The control: the same
    pings with the filter taken off the running NIC get through."""
    guest = vmm_seed_guest
    own4, own6 = pool_addresses(guest)
    foreign4, foreign6 = FOREIGN[guest.variant]
    wait_for_dad(guest)
    for address in (foreign4, foreign6):  # what an earlier run's control taught the node
        subprocess.run(["ip", "neigh", "flush", "dev", POOLS_BRIDGE, "to", address], check=True)
    iface = live_interface(guest.dom, guest.macs[1])
    tap = iface.find("target").get("dev")
    binding = filter_binding(conn, tap)
    assert binding is not None, f"no nwfilter binding for {tap}"
    assert binding["filter"] == "vmm-clean-traffic", binding
    assert binding["mac"] == guest.macs[1], binding
    assert binding["parameters"] == [("IP", own4), ("IPV6", own6), ("MAC", guest.macs[1])], binding

    guest.output(f"ip addr add {foreign4}/24 dev eth1 && ip addr add {foreign6}/64 dev eth1 nodad")
    try:
        assert ping(guest, own4, POOLS_GATEWAY4) == 0 and ping(guest, own6, POOLS_GATEWAY6) == 0
        assert ping(guest, foreign4, POOLS_GATEWAY4) != 0
        assert ping(guest, foreign6, POOLS_GATEWAY6) != 0
        assert not {foreign4, foreign6} & host_neighbours(), host_neighbours()
        assert ping(guest, own4, POOLS_GATEWAY4) == 0 and ping(guest, own6, POOLS_GATEWAY6) == 0

        unfiltered = copy.deepcopy(iface)
        unfiltered.remove(unfiltered.find("filterref"))
        guest.dom.updateDeviceFlags(etree.tostring(unfiltered, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        try:
            assert filter_binding(conn, tap) is None
            assert ping(guest, foreign4, POOLS_GATEWAY4) == 0, "without the filter the foreign address gets through"
            assert ping(guest, foreign6, POOLS_GATEWAY6) == 0
            assert {foreign4, foreign6} <= host_neighbours(), host_neighbours()
        finally:
            guest.dom.updateDeviceFlags(etree.tostring(iface, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert filter_binding(conn, tap) == binding  # back as it was
    finally:
        guest.run(f"ip addr del {foreign4}/24 dev eth1; ip addr del {foreign6}/64 dev eth1")


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


# One variant: a restart costs a Debian boot under TCG (130 s), and both renderers already showed the pool
# addresses at the first boot; what is new here is the seed read again at a later boot, which is cloud-init's.
@pytest.mark.parametrize("vmm_seed_guest", ["networkd"], indirect=True)
def test_vm_address_adds_an_address_the_guest_takes_at_its_next_start(vmm_seed_guest, conn):
    """vm_address gives eth1 a second IPv4 address of the pool: the anti-spoofing binding takes it at once, the
    guest configures it from its rewritten seed at its next start (vmm's restart: a stop and a start, which opens
    the new seed), and it reaches the pool's gateway. Giving it back takes it off the definition and the filter."""
    guest = vmm_seed_guest
    own4, own6 = pool_addresses(guest)
    args = {"name": guest.name, "nic": 1, "count": 2, "ip_pools": [POOL4, POOL6]}
    added = run_task("vmm.cloud.vm_address", args)
    assert added["changed"] and added["pending_restart"] == ["addresses"], added
    held = [a["address"] for a in added["vm"]["addresses"]]
    assert held[0] == own4 and len(held) == 3, held
    second = next(a for a in held if a not in (own4, own6))
    tap = live_interface(guest.dom, guest.macs[1]).find("target").get("dev")
    assert ("IP", second) in filter_binding(conn, tap)["parameters"]  # passes as soon as the guest uses it
    assert second not in guest.output("ip -o addr show dev eth1")  # the guest is told at its next start only

    restarted = run_task("vmm.cloud.vm", {"name": guest.name, "state": "restarted", "shutdown_timeout": 120})
    assert restarted["changed"] and restarted["vm"]["state"] == "running", restarted
    booted(conn, guest)  # the console log starts over at the start: this boot's cloud-init has finished
    addresses = guest.output("ip -o addr show dev eth1")
    assert f"inet {own4}/24 " in addresses and f"inet {second}/24 " in addresses, addresses
    wait_for_dad(guest)
    assert ping(guest, second, POOLS_GATEWAY4) == 0 and ping(guest, own4, POOLS_GATEWAY4) == 0

    back = run_task("vmm.cloud.vm_address", {**args, "address": second, "state": "absent", "count": 1})
    assert back["changed"] and [a["address"] for a in back["vm"]["addresses"]] == [own4, own6], back
    tap = live_interface(guest.dom, guest.macs[1]).find("target").get("dev")
    assert ("IP", second) not in filter_binding(conn, tap)["parameters"]
    assert ping(guest, second, POOLS_GATEWAY4) != 0  # the guest still has it; the filter no longer lets it out
