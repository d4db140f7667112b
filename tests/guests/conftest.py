"""Real Debian 12 cloud guests booted through vmm.cloud.vm (software emulation).

scripts/build-debian-guest builds (and caches) one image per network variant:
ifupdown (cloud-init renders ENI) and networkd. Both VMs are created and
started together once per session, then every check of a variant reads the
same VM: its serial console log, libvirt's DHCP leases, and commands run
through the QEMU guest agent (no network traffic to the guest). Beside them,
one VM per variant with two NICs and no network_config of its own boots on
the seed vmm makes (each NIC matched by the MAC vmm pinned): DHCP on `default`, and
IPv4 and IPv6 from IP pools on a network of the session's own (`rg-pools`,
isolated, no DHCP), where the NIC is bound to vmm's anti-spoofing filter; and one on the network config
vmm writes for a routed NIC (a /32 and the node's address as gateway; here the
default network's gateway stands in for a routed node's). The VMs are called
`rg-*` and are removed at the end, also when a test fails.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import libvirt
import libvirt_qemu
import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.vm_spec import seed_network_config
from tests.integration.ansible_run import ROOT, run_task, run_tasks
from tests.integration.conftest import wait_for_console

VARIANTS = ("ifupdown", "networkd")
PREFIX = "rg-"
MEMORY_MIB = 768
BOOT_TIMEOUT = 900  # six guests boot at once on 2 cores under TCG
# Documentation prefixes: configured in the guest, never routed anywhere.
STATIC = {"ifupdown": ("192.0.2.11", "2001:db8:7a::11"), "networkd": ("192.0.2.12", "2001:db8:7a::12")}
PASSWORD = "rg-secret-pw"
# A routed VM's address has nothing to do with its gateway's network: TEST-NET-2, gateway the default network's.
ROUTED = {"ifupdown": "198.51.100.21", "networkd": "198.51.100.22"}
ROUTED_GATEWAY = "192.168.122.1"
# The pools' network: isolated (nothing leaves the machine), no DHCP; the guests' addresses come from the pools.
# Its IPv6 address is put on the bridge by hand: libvirt's dnsmasq announces every IPv6 subnet of a network for
# SLAAC, and Debian 12's systemd-networkd would then add an address of its own that the anti-spoofing filter
# drops (cloud-init 22.4 writes IPv6AcceptRA= only for DHCPv6). libvirt disables IPv6 on the bridge of a network
# without an IPv6 address (ipv6='yes' too, in 9.0): the fixture enables it again.
POOLS_NETWORK, POOLS_BRIDGE = "rg-pools", "virbr-rgpool"
POOLS_GATEWAY4, POOLS_GATEWAY6 = "10.77.0.1", "fd77::1"
POOLS_NETWORK_XML = f"""<network>
  <name>{POOLS_NETWORK}</name>
  <bridge name='{POOLS_BRIDGE}' stp='off'/>
  <ip address='{POOLS_GATEWAY4}' prefix='24'/>
</network>"""
POOL4 = {"name": "rg-pool4", "network": POOLS_NETWORK, "subnet": "10.77.0.0/24", "ranges": ["10.77.0.10-10.77.0.20"],
         "gateway": POOLS_GATEWAY4, "dns": [POOLS_GATEWAY4]}
POOL6 = {"name": "rg-pool6", "network": POOLS_NETWORK, "subnet": "fd77::/64", "ranges": ["fd77::10-fd77::20"],
         "gateway": POOLS_GATEWAY6}


@dataclass
class Guest:
    variant: str
    name: str
    hostname: str
    fqdn: str
    mac: str
    ipv4: str
    ipv6: str
    console_log: Path
    ssh_public_key: str
    dom: libvirt.virDomain
    macs: tuple = ()  # every NIC's, when the VM has several

    def console(self):
        return self.console_log.read_text(errors="replace")

    def agent(self, command, arguments=None, timeout=10):
        request = {"execute": command, **({"arguments": arguments} if arguments is not None else {})}
        return json.loads(libvirt_qemu.qemuAgentCommand(self.dom, json.dumps(request), timeout, 0))["return"]

    def run(self, script, timeout=60):
        """(exit code, stdout, stderr) of `sh -c script` in the guest, through the guest agent."""
        pid = self.agent("guest-exec", {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True})["pid"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.agent("guest-exec-status", {"pid": pid})
            if status["exited"]:
                out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
                return status.get("exitcode"), out, err
            time.sleep(0.3)
        raise AssertionError(f"{script!r} still running in {self.name} after {timeout} s")

    def output(self, script):
        code, out, err = self.run(script)
        assert code == 0, f"{script!r} in {self.name}: exit {code}\n{out}\n{err}"
        return out


def build_image(variant):
    out = subprocess.run([str(ROOT / "scripts" / "build-debian-guest"), "--variant", variant],
                         capture_output=True, text=True, check=False, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.is_file(), out.stdout
    return path


def network_config(variant, mac):
    """DHCP on the default network plus static addresses, on the NIC matched by its MAC."""
    ipv4, ipv6 = STATIC[variant]
    return {"version": 2, "ethernets": {"eth0": {
        "match": {"macaddress": mac}, "set-name": "eth0", "dhcp4": True,
        "addresses": [f"{ipv4}/24", f"{ipv6}/64"]}}}


def vm_args(variant, image, mac, key, state):
    name = f"{PREFIX}deb-{variant}"
    return {"name": name, "image": image, "state": state, "domain_type": "qemu", "memory": MEMORY_MIB,
            "vcpus": 1, "console": {"type": "none"}, "shutdown_timeout": 0,
            "networks": [{"network": "default", "mac": mac}],
            "cloud_init": {"hostname": f"rg-{variant}", "fqdn": f"rg-{variant}.guests.test",
                           "ssh_authorized_keys": [key], "password": PASSWORD,
                           "network_config": network_config(variant, mac)}}


def vmm_seed_args(variant, image, state):
    """A VM with two NICs that leaves their MACs and its network config to vmm: the seed a user gets by default.
    The first takes DHCP on `default`, the second an IPv4 and an IPv6 address from the pools on `rg-pools`."""
    return {"name": f"{PREFIX}def-{variant}", "image": image, "state": state, "domain_type": "qemu",
            "memory": MEMORY_MIB, "vcpus": 1, "console": {"type": "none"}, "shutdown_timeout": 0,
            "networks": [{"network": "default", "ipv4": "none", "ipv6": "none"},
                         {"network": POOLS_NETWORK, "ipv4": "auto", "ipv6": "auto"}],
            "ip_pools": [POOL4, POOL6], "cloud_init": {"hostname": f"rg-def-{variant}"}}


def routed_args(variant, image, mac, state):
    """A VM whose seed holds what vmm writes for a routed NIC (vm_spec.seed_network_config)."""
    nic = {"type": "routed", "source": ROUTED[variant], "mac": mac, "gateway": ROUTED_GATEWAY}
    return {"name": f"{PREFIX}rt-{variant}", "image": image, "state": state, "domain_type": "qemu",
            "memory": MEMORY_MIB, "vcpus": 1, "console": {"type": "none"}, "shutdown_timeout": 0,
            "networks": [{"network": "default", "mac": mac}],
            "cloud_init": {"hostname": f"rg-rt-{variant}", "network_config": seed_network_config([nic])}}


def vm_tasks(images, macs, key, state):
    """The VMs of every variant (own network config, vmm's default seed, vmm's routed seed), for run_tasks."""
    return ([("vmm.cloud.vm", vm_args(v, images[v], macs[v], key, state)) for v in VARIANTS]
            + [("vmm.cloud.vm", vmm_seed_args(v, images[v], state)) for v in VARIANTS]
            + [("vmm.cloud.vm", routed_args(v, images[v], macs[f"routed-{v}"], state)) for v in VARIANTS])


def remove_vm(conn, name):
    run_task("vmm.cloud.vm", {"name": name, "state": "absent", "shutdown_timeout": 0})
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        dom = None
    if dom is not None:  # vmm could not remove it: do it by hand
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    for path in (Path(f"/var/lib/vmm/disks/{name}.qcow2"), Path(f"/var/lib/vmm/disks/{name}-seed.iso"),
                 Path(f"/var/log/vmm/console/{name}.log")):
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def conn():
    connection = libvirt.open("qemu:///system")
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def ssh_public_key(tmp_path_factory):
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rg@vmm-tests", "-f", str(key)], check=True)
    return key.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="session")
def macs():
    """A fresh MAC per variant and session: the seed matches the NIC by it, and no lease of an earlier
    run (dnsmasq keeps them after the VM is gone) is mistaken for this run's."""
    return {key: "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
            for key in [*VARIANTS, *(f"routed-{variant}" for variant in VARIANTS)]}


def remove_network(conn, name):
    try:
        network = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        return
    if network.isActive():
        network.destroy()
    if network.isPersistent():
        network.undefine()


@pytest.fixture(scope="session")
def pools_network(conn):
    """The network the pools serve, defined and started for the session (one left by a killed run replaced)."""
    remove_network(conn, POOLS_NETWORK)
    try:
        conn.networkDefineXML(POOLS_NETWORK_XML).create()
        Path(f"/proc/sys/net/ipv6/conf/{POOLS_BRIDGE}/disable_ipv6").write_text("0")
        subprocess.run(["ip", "-6", "addr", "add", f"{POOLS_GATEWAY6}/64", "dev", POOLS_BRIDGE, "nodad"], check=True)
        yield POOLS_NETWORK
    finally:
        remove_network(conn, POOLS_NETWORK)


@pytest.fixture(scope="session")
def started_guests(conn, macs, ssh_public_key, pools_network):
    """Both variants' VMs created and started (not yet waited for): {variant: (name, console log)}."""
    images = {variant: f"{PREFIX}debian-12-{variant}" for variant in VARIANTS}
    names = [f"{PREFIX}{kind}-{variant}" for kind in ("deb", "def", "rt") for variant in VARIANTS]
    for name in names:
        remove_vm(conn, name)
    try:
        registered = run_tasks([("vmm.cloud.image", {"name": images[v], "src": str(build_image(v))})
                                for v in VARIANTS])
        assert not any(r.get("failed") for r in registered), registered
        started = run_tasks(vm_tasks(images, macs, ssh_public_key, "running"))
        assert not any(r.get("failed") for r in started), started
        assert all(r["vm"]["guest_agent"]["channel"] for r in started), [r["vm"] for r in started]
        keys = [*VARIANTS, *(f"vmm-seed-{variant}" for variant in VARIANTS), *(f"routed-{v}" for v in VARIANTS)]
        yield {key: (r["vm"]["name"], Path(r["vm"]["console_log"]), [nic["mac"] for nic in r["vm"]["interfaces"]])
               for key, r in zip(keys, started, strict=True)}
    finally:
        for name in names:
            remove_vm(conn, name)
        run_tasks([("vmm.cloud.image", {"name": image, "state": "absent"}) for image in images.values()])


def booted(conn, guest):
    """`guest` once cloud-init has finished its first boot and the guest agent answers."""
    wait_for_console(guest.console_log, "Cloud-init v.", timeout=BOOT_TIMEOUT)
    wait_for_console(guest.console_log, "finished at", timeout=BOOT_TIMEOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            guest.agent("guest-ping")
            return guest
        except libvirt.libvirtError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="session", params=VARIANTS)
def guest(request, conn, macs, started_guests, ssh_public_key):
    """One variant's VM (its own network config) after cloud-init finished its first boot."""
    variant = request.param
    name, console_log, _ = started_guests[variant]
    ipv4, ipv6 = STATIC[variant]
    return booted(conn, Guest(variant=variant, name=name, hostname=f"rg-{variant}", fqdn=f"rg-{variant}.guests.test",
                              mac=macs[variant], ipv4=ipv4, ipv6=ipv6, console_log=console_log,
                              ssh_public_key=ssh_public_key, dom=conn.lookupByName(name)))


@pytest.fixture(scope="session", params=VARIANTS)
def vmm_seed_guest(request, conn, started_guests):
    """One variant's VM on the seed vmm made (no network config of its own), after its first boot."""
    variant = request.param
    name, console_log, macs = started_guests[f"vmm-seed-{variant}"]
    return booted(conn, Guest(variant=variant, name=name, hostname=f"rg-def-{variant}", fqdn="", mac=macs[0],
                              ipv4="", ipv6="", console_log=console_log, ssh_public_key="",
                              dom=conn.lookupByName(name), macs=macs))


@pytest.fixture(scope="session", params=VARIANTS)
def routed_guest(request, conn, started_guests):
    """One variant's VM on vmm's routed network config, after its first boot."""
    variant = request.param
    name, console_log, macs = started_guests[f"routed-{variant}"]
    return booted(conn, Guest(variant=variant, name=name, hostname=f"rg-rt-{variant}", fqdn="", mac=macs[0],
                              ipv4=ROUTED[variant], ipv6="", console_log=console_log, ssh_public_key="",
                              dom=conn.lookupByName(name)))
