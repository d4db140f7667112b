"""IP pools on the lab's real nodes: a routed pool on the edge node, a pool on the bridged node's uplink, and a
pool on the NAT network of cluster `lab` whose addresses are never handed out twice across nodes.

Each test declares its pool in vmm_ip_pools (extra vars, as an inventory group var would be), starts from what
ip_pools.yml says is used (earlier tests' VMs may hold addresses), and deletes its VMs whatever happens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess

from tests.integration.ansible_run import BIN, ROOT, ansible_env
from tests.lab.conftest import wait_for

TINY = {"vm_image": "tiny", "vm_memory": 128}
PING = ROOT / "tests" / "lab" / "ping.py"
COUNT_TASK = "Check the pools and count what the VMs hold"
# An additional subnet the provider routes to the edge node (TEST-NET-3, as test_routed_vm_from_an_additional_subnet).
ROUTED_POOL = {"name": "lab-routed", "routed": True, "cluster": "edge", "subnet": "203.0.113.0/24",
               "ranges": ["203.0.113.10-203.0.113.19"]}
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
