"""IP pools on the lab's real nodes: a routed pool on the edge node, a pool on the bridged node's uplink, and a
pool on the NAT network of cluster `lab` whose addresses are never handed out twice across nodes.

Each test declares its pool in vmm_ip_pools (extra vars, as an inventory group var would be), starts from what
ip_pools.yml says is used (earlier tests' VMs may hold addresses), and deletes its VMs whatever happens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shlex
import subprocess

from tests.integration.ansible_run import BIN, ROOT, ansible_env
from tests.lab.conftest import wait_for

TINY = {"vm_image": "tiny", "vm_memory": 128}
PING = ROOT / "tests" / "lab" / "ping.py"
COUNT_TASK = "Check the pools and count what the VMs hold"
# An additional subnet the provider routes to the edge node (TEST-NET-3, as test_routed_vm_from_an_additional_subnet).
ROUTED_POOL = {"name": "lab-routed", "routed": True, "cluster": "edge", "subnet": "203.0.113.0/24",
               "ranges": ["203.0.113.10-203.0.113.19"]}
# The edge node's IPv6 (Hetzner-style): a /64 on the uplink, of which each VM takes a /128 routed to its tap; the
# node answers neighbour solicitations for those on the uplink (ndppd, which the node role sets up for the prefixes
# of the routed pools). The lab bridge's host side plays the provider's router, at ::1.
ROUTED6_POOL = {"name": "lab-routed6", "routed": True, "cluster": "edge", "subnet": "2001:db8:77::/64",
                "ranges": ["2001:db8:77::100-2001:db8:77::1ff"]}
ROUTER6 = "2001:db8:77::1"
NODE6 = "2001:db8:77::4"  # the edge node's own address on the uplink, which the provider gives it
# The lab's uplink network, which the bridged node's br0 carries; the lab bridge's host side is its router.
UPLINK_POOL = {"name": "lab-uplink", "bridge": "br0", "cluster": "br", "subnet": "10.231.0.0/24",
               "ranges": ["10.231.0.140-10.231.0.149"], "gateway": "10.231.0.1", "dns": ["10.231.0.1"]}
# The NAT network every node of cluster `lab` has (virbr0, 192.168.122.0/24, each node its own).
NAT_POOL = {"name": "lab-nat", "network": "default", "cluster": "lab", "subnet": "192.168.122.0/24",
            "ranges": ["192.168.122.200-192.168.122.209"], "gateway": "192.168.122.1"}


def playbook(cluster, name, extra_vars):
    """(returncode, {task name: {host: result}}, output tail) of a playbook on the lab (json callback)."""
    argv = [str(BIN / "ansible-playbook"), "-i", str(cluster.inventory), str(ROOT / "playbooks" / name),
            "-e", json.dumps(extra_vars)]
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=600,
                          check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f"{name}: rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
    tasks = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            tasks.setdefault(task["task"]["name"], {}).update(task["hosts"])
    return proc.returncode, tasks, (proc.stdout + proc.stderr)[-4000:]


def create(cluster, name, vm_cluster, pools, networks, **extra):
    """(returncode, the "Create the VM" result) of vm_create.yml; a refusal of placement (which chooses and checks
    the pool addresses on the controller) is the "Choose the node" result."""
    rc, tasks, out = playbook(cluster, "vm_create.yml", {**TINY, "vm_name": name, "vm_cluster": vm_cluster,
                                                        "vm_networks": networks, "vmm_ip_pools": pools, **extra})
    chosen = next(iter(tasks.get("Choose the node", {}).values()), {})
    if chosen.get("failed"):
        return rc, chosen
    result = next(iter(tasks.get("Create the VM", {}).values()), {"msg": out})
    return rc, result


def created(cluster, name, vm_cluster, pools, networks, **extra):
    """The first pool address of the new VM's first NIC, with that NIC."""
    rc, result = create(cluster, name, vm_cluster, pools, networks, **extra)
    assert rc == 0 and not result.get("failed"), result
    nic = result["vm"]["interfaces"][0]
    return nic["addresses"][0]["address"], nic


def counted(cluster, pools, vm_cluster):
    """ip_pools.yml's report of the pool: {name: usage}."""
    rc, tasks, out = playbook(cluster, "ip_pools.yml", {"vmm_ip_pools": pools, "vm_cluster": vm_cluster})
    assert rc == 0, out
    return {pool["name"]: pool for pool in tasks[COUNT_TASK]["localhost"]["pools"]}


def ordered(addresses):
    return sorted(addresses, key=ipaddress.ip_address)


def first_free(pool, used):
    """The lowest address of the pool's (one) range that `used` does not hold."""
    first, last = (int(ipaddress.ip_address(a)) for a in pool["ranges"][0].split("-"))
    return next(text for text in (str(ipaddress.ip_address(v)) for v in range(first, last + 1)) if text not in used)


def booted_at(cluster, node, vm, address):
    wait_for(lambda: f"ip={address}" in cluster.console(node, vm), timeout=90, what=f"{vm} up at {address} on {node}")


def pings(address, node=None, cluster=None):
    """An ICMP echo answered: from the controller (the uplink side), or from inside `node`."""
    if node is None:
        return subprocess.run(["python3", str(PING), address, "3"], capture_output=True, check=False).returncode == 0
    return cluster.ssh(node, f"python3 - {address} 3", stdin=PING.read_text()).returncode == 0


@contextlib.contextmanager
def deleted_after(cluster, vm_cluster, *names):
    """Delete the VMs at the end (through vm_delete.yml), whatever happened; a VM never made is no error."""
    try:
        yield
    finally:
        for name in names:
            cluster.ok("vm_delete.yml", {"vm_name": name, "vm_cluster": vm_cluster})


def test_routed_pool_gives_each_vm_the_next_free_32_reachable_from_the_uplink(cluster):
    pools = [ROUTED_POOL]
    held = counted(cluster, pools, "edge")["lab-routed"]["addresses"]  # routed2 holds .10 after test_cluster
    with deleted_after(cluster, "edge", "prouted1", "prouted2"):
        address, nic = created(cluster, "prouted1", "edge", pools, [{"routed": "auto"}])
        assert address == first_free(ROUTED_POOL, held)
        assert nic["routed"] == address
        assert (nic["addresses"][0]["prefix"], nic["addresses"][0]["pool"]) == (32, "lab-routed")
        booted_at(cluster, "node4", "prouted1", address)
        routes = cluster.ssh("node4", f"ip route show {address}").stdout
        assert f"{address} dev vnet" in routes and f"src {cluster.ip('node4')}" in routes
        assert pings(address, "node4", cluster)
        # The provider's router: the address via the node (the lab bridge's host side plays it).
        subprocess.run(["ip", "route", "add", f"{address}/32", "via", cluster.ip("node4")], check=True)
        try:
            assert pings(address)
        finally:
            subprocess.run(["ip", "route", "del", f"{address}/32"], check=False)

        second, _ = created(cluster, "prouted2", "edge", pools, [{"routed": "auto"}])
        assert second == first_free(ROUTED_POOL, held + [address])
        report = counted(cluster, pools, "edge")["lab-routed"]
        assert report["addresses"] == ordered(held + [address, second]) and report["used"] == len(held) + 2
    assert counted(cluster, pools, "edge")["lab-routed"]["addresses"] == held  # deleting the VMs freed them


@contextlib.contextmanager
def provider_ipv6(cluster, node):
    """The provider's /64 on the uplink: the router's address on the lab bridge, the node's on its uplink."""
    bridge = f"{os.environ.get('VMM_LAB_PREFIX', 'vmmlab')}0"  # the lab's bridge (tests/lab/lab)
    subprocess.run(["ip", "-6", "addr", "add", f"{ROUTER6}/64", "dev", bridge, "nodad"], check=True)
    try:
        assert cluster.ssh(node, f"ip -6 addr add {NODE6}/64 dev eth0 nodad").returncode == 0
        yield
    finally:
        cluster.ssh(node, f"ip -6 addr del {NODE6}/64 dev eth0")
        subprocess.run(["ip", "-6", "addr", "del", f"{ROUTER6}/64", "dev", bridge], check=False)


def test_routed_ipv6_is_reached_from_the_uplink_through_proxy_ndp(cluster):
    pools = [ROUTED_POOL, ROUTED6_POOL]
    held = counted(cluster, pools, "edge")["lab-routed6"]["addresses"]
    with provider_ipv6(cluster, "node4"), deleted_after(cluster, "edge", "prouted6"):
        # The admin declares the pool and bootstraps the node again: ndppd answers for the pool's prefix.
        recap, _ = cluster.ok("node_bootstrap.yml", {"vmm_ip_pools": pools, "vmm_node": "node4"})
        assert recap["node4"][1] > 0, recap
        config = cluster.ssh("node4", "cat /var/lib/vmm/ndppd.conf").stdout
        assert "proxy eth0 {" in config and "rule 2001:db8:77::/64 {" in config, config
        assert cluster.ssh("node4", "/usr/local/sbin/vmm-node-daemon status ndppd").stdout.strip() == "running"
        recap, _ = cluster.ok("node_bootstrap.yml", {"vmm_ip_pools": pools, "vmm_node": "node4"})
        assert recap["node4"][1] == 0, recap  # nothing to change the second time

        rc, result = create(cluster, "prouted6", "edge", pools, [{"routed": "auto"}])
        assert rc == 0 and not result.get("failed"), result
        nic = result["vm"]["interfaces"][0]
        by_version = {ipaddress.ip_address(a["address"]).version: a for a in nic["addresses"]}
        v4, v6 = by_version[4]["address"], by_version[6]["address"]
        assert v6 == first_free(ROUTED6_POOL, held) and (by_version[6]["prefix"], by_version[6]["pool"]) == (
            128, "lab-routed6")
        booted_at(cluster, "node4", "prouted6", v4)
        # The node routes the /128 to the VM's tap (libvirt's peer address on the tap's fe80::1) ...
        routes = cluster.ssh("node4", f"ip -6 route show {v6}").stdout
        assert f"{v6} dev {nic['target_dev']}" in routes, routes
        assert wait_for(lambda: pings(v6, "node4", cluster), timeout=60, what=f"{v6} from node4")
        # ... and the provider's router, which only knows the /64 is on its link, finds the VM by neighbour
        # discovery: ndppd answers for it (within its route-ttl of 5 s) ...
        assert wait_for(lambda: pings(v6), timeout=60, what=f"{v6} from the uplink")
        neighbour = subprocess.run(["ip", "-6", "neigh", "show", v6], capture_output=True, text=True).stdout
        node_mac = cluster.ssh("node4", "cat /sys/class/net/eth0/address").stdout.strip()
        assert node_mac and node_mac in neighbour, (neighbour, node_mac)
        # ... and for no address of the prefix that no VM holds.
        assert not pings(str(ipaddress.ip_address(ROUTED6_POOL["ranges"][0].split("-")[1])))
        # The control: without ndppd the router no longer finds the VM.
        helper = "/usr/local/sbin/vmm-node-daemon"
        assert cluster.ssh("node4", f"{helper} stop ndppd").stdout.strip() == "stopped"
        try:
            subprocess.run(["ip", "-6", "neigh", "flush", "to", v6], check=True)
            assert not pings(v6), "reached without proxy NDP: this test proves nothing"
        finally:
            started = cluster.ssh("node4", f"{helper} start ndppd -c /var/lib/vmm/ndppd.conf").stdout.strip()
        assert started == "started"
        assert wait_for(lambda: pings(v6), timeout=60, what=f"{v6} from the uplink, ndppd back")
    assert counted(cluster, pools, "edge")["lab-routed6"]["addresses"] == held


def guest_shell(cluster, node, vm, command, timeout=60):
    """Run `command` in the tiny guest's shell on its serial console: typed into the pty libvirt gave the console
    (held open a moment, so that QEMU sees a peer and reads it), its end seen in the console log."""
    xml = cluster.ssh(node, f"virsh dumpxml {vm}").stdout
    pty = re.search(r"<serial type='pty'>\s*<source path='(/dev/pts/\d+)'", xml).group(1)
    token = len(cluster.console(node, vm))
    done = f"VMM-SHELL-{token + 1}"  # printed by $((token+1)): the echoed command line does not hold it
    typed = f"{command}; echo VMM-SHELL-$(({token}+1))"
    script = f"exec 3<>{pty}; sleep 1.5; printf '\\r' >&3; sleep 1; printf '%s\\r' {shlex.quote(typed)} >&3; sleep 1"
    assert cluster.ssh(node, script).returncode == 0
    wait_for(lambda: done in cluster.console(node, vm), timeout=timeout, what=f"{command!r} in {vm}")


def echoes_received(cluster, node):
    """(ICMP, ICMPv6) echo requests the node has received so far."""
    out = cluster.ssh(node, "nstat -asz IcmpInEchos Icmp6InEchos").stdout
    counts = dict(line.split()[:2] for line in out.splitlines()[1:] if line.strip())
    return int(counts["IcmpInEchos"]), int(counts["Icmp6InEchos"])


def test_routed_vm_sends_only_from_its_own_addresses(cluster):
    """A routed tap is no bridge port, so nwfilter has no hold on it; the node's reverse path filter does (strict
    rp_filter for IPv4, netfilter's rpfilter on the taps for IPv6, from the node role). The guest takes a foreign
    address of each family and pings the node from it and from its own: only its own reach the node (the node's
    echo counters). The control: the same with the filter taken off its tap."""
    pools = [ROUTED_POOL, ROUTED6_POOL]
    node, node4 = "node4", cluster.ip("node4")
    foreign4, foreign6 = "203.0.113.250", "2001:db8:77::ffff"  # in the pools' subnets, held by no VM
    with provider_ipv6(cluster, node), deleted_after(cluster, "edge", "pspoof"):
        rc, result = create(cluster, "pspoof", "edge", pools, [{"routed": "auto"}])
        assert rc == 0 and not result.get("failed"), result
        nic = result["vm"]["interfaces"][0]
        own = {ipaddress.ip_address(a["address"]).version: a["address"] for a in nic["addresses"]}
        booted_at(cluster, node, "pspoof", own[4])
        guest_shell(cluster, node, "pspoof", f"ip addr add {foreign4}/32 dev eth0; ip addr add {foreign6}/128 "
                                             f"dev eth0; sleep 3")

        def received(source, target):
            before = echoes_received(cluster, node)
            guest_shell(cluster, node, "pspoof", f"ping -c 3 -W 2 -I {source} {target}")
            after = echoes_received(cluster, node)
            return after[0] - before[0] if ":" not in source else after[1] - before[1]

        assert received(own[4], node4) >= 2 and received(own[6], NODE6) >= 2
        assert received(foreign4, node4) == 0 and received(foreign6, NODE6) == 0
        assert received(own[4], node4) >= 2 and received(own[6], NODE6) >= 2

        tap = nic["target_dev"]
        rule = "PREROUTING -i vnet+ -m rpfilter --invert -j DROP"
        off = cluster.ssh(node, f"sysctl -qw net.ipv4.conf.{tap}.rp_filter=0 && ip6tables -w -t raw -D {rule}")
        assert off.returncode == 0, off.stderr
        try:
            assert received(foreign4, node4) >= 2, "without the filter the foreign IPv4 gets through"
            assert received(foreign6, NODE6) >= 2, "without the filter the foreign IPv6 gets through"
        finally:
            on = cluster.ssh(node, f"sysctl -qw net.ipv4.conf.{tap}.rp_filter=1; "
                                   "/etc/libvirt/hooks/qemu.d/vmm-routed-rpfilter - apply")
        assert on.stdout.strip() == "added", on


def test_bridge_pool_address_is_set_up_by_the_guest_and_reachable_on_the_uplink(cluster):
    pools = [UPLINK_POOL]
    held = counted(cluster, pools, "br")["lab-uplink"]["addresses"]
    with deleted_after(cluster, "br", "pbridged1"):
        address, nic = created(cluster, "pbridged1", "br", pools, [{"bridge": "br0", "ipv4": "auto"}])
        assert address == first_free(UPLINK_POOL, held)
        assert nic["addresses"][0]["prefix"] == 24 and nic["addresses"][0]["gateway"] == "10.231.0.1"
        # The guest set up the static address its seed gave it (no DHCP on the uplink), ...
        booted_at(cluster, "node5", "pbridged1", address)
        # ... its NIC is bound to clean-traffic with that address, ...
        binding = cluster.ssh("node5", f"virsh nwfilter-binding-dumpxml {nic['target_dev']}").stdout
        assert "filter='clean-traffic'" in binding and f"value='{address}'" in binding, binding
        # ... and the uplink side reaches it there.
        assert pings(address)


def test_nat_pool_never_hands_out_an_address_held_on_another_node(cluster):
    pools = [NAT_POOL]
    a_node, b_node, c_node = cluster.nodes("lab")
    held = counted(cluster, pools, "lab")["lab-nat"]["addresses"]
    with deleted_after(cluster, "lab", "pnat1", "pnat2", "pnat3"):
        a, _ = created(cluster, "pnat1", "lab", pools, [{"network": "default"}], vmm_node=a_node)
        assert a == first_free(NAT_POOL, held)
        # B pinned to another node, whose only candidate it is: A's address still counts as used.
        b, _ = created(cluster, "pnat2", "lab", pools, [{"network": "default"}], vmm_node=b_node)
        assert b != a and b == first_free(NAT_POOL, held + [a])
        assert (cluster.where("pnat1"), cluster.where("pnat2")) == ([a_node], [b_node])
        report = counted(cluster, pools, "lab")["lab-nat"]
        assert report["addresses"] == ordered(held + [a, b]) and report["used"] == len(held) + 2
        # Each guest is on its own node's NAT network at its pool address.
        for node, vm, address in ((a_node, "pnat1", a), (b_node, "pnat2", b)):
            booted_at(cluster, node, vm, address)
            assert pings(address, node, cluster), f"{vm} at {address} from {node}"

        # Asked for explicitly on a third node, A's address is refused, naming the field and the VM holding it.
        rc, result = create(cluster, "pnat3", "lab", pools, [{"network": "default", "ipv4": a}], vmm_node=c_node)
        assert rc != 0 and result.get("field") == "networks[0].ipv4", result
        assert result["msg"] == f"networks[0].ipv4: {a} is in use by VM pnat1 on {a_node}"
        assert cluster.where("pnat3") == []
        # So is adding it to B with vm_address.yml.
        rc, tasks, out = playbook(cluster, "vm_address.yml", {"vm_name": "pnat2", "vm_address": a,
                                                              "vmm_node": b_node, "vmm_ip_pools": pools})
        refused = tasks.get("Change the VM's addresses", {}).get(b_node, {"msg": out})
        assert rc != 0 and refused.get("msg") == f"address: {a} is in use by VM pnat1 on {a_node}", refused
    assert counted(cluster, pools, "lab")["lab-nat"]["addresses"] == held
