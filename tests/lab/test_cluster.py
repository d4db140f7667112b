"""A cluster on the lab, as an admin uses it: bootstrap, placement, migration, drain, HA, network modes.

The tests run in file order and share the lab; each leaves the nodes healed.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.ansible_run import BIN, ROOT, ansible_env
from tests.lab.conftest import lab, uptimes, wait_for

TINY = {"vm_image": "tiny", "vm_memory": 128}
PING = (ROOT / "tests" / "lab" / "ping.py").read_text()


def create(cluster, name, **extra):
    recap, out = cluster.ok("vm_create.yml", {**TINY, "vm_name": name, "vm_cluster": "lab", **extra})
    return out


def delete(cluster, name):
    cluster.ok("vm_delete.yml", {"vm_name": name, "vm_cluster": "lab"})


def booted(cluster, node, vm):
    return wait_for(lambda: uptimes(cluster.console(node, vm)), timeout=90, what=f"{vm} ticking on {node}")


def test_one_bootstrap_run_makes_every_node_of_every_cluster(cluster):
    # The second run (changed=0) and check mode are molecule's (molecule/cluster, one lab node per mode).
    first = cluster.first_bootstrap
    assert sorted(first) == ["node1", "node2", "node3", "node4", "node5"]
    assert all(changed > 0 and failed == 0 and unreachable == 0 for _ok, changed, unreachable, failed in first.values())
    # Every node mounts the shared store and records its cluster and mode.
    for node, (cluster_name, mode) in {"node1": ("lab", "nat"), "node4": ("edge", "routed"),
                                       "node5": ("br", "bridge")}.items():
        facts = json.loads(cluster.ssh(node, "cat /var/lib/vmm/node.json").stdout)
        assert (facts["name"], facts["cluster"], facts["network_mode"], facts["domain_type"]) == \
            (node, cluster_name, mode, "qemu")
        assert cluster.ssh(node, f"findmnt -n {facts['shared_dir']}").returncode == 0
    routed = json.loads(cluster.ssh("node4", "cat /var/lib/vmm/node.json").stdout)
    assert routed["routed_gateway"] == cluster.ip("node4")
    # Bridge mode: the uplink is a port of br0, which carries the node's address.
    links = json.loads(cluster.ssh("node5", "ip -j addr show").stdout)
    by_name = {link["ifname"]: link for link in links}
    assert by_name["eth0"]["master"] == "br0"
    assert [a["local"] for a in by_name["br0"]["addr_info"] if a["family"] == "inet"] == [cluster.ip("node5")]
    # Routed mode: forwarding and proxy ARP on the uplink.
    sysctls = cluster.ssh("node4", "sysctl -n net.ipv4.ip_forward net.ipv4.conf.eth0.proxy_arp").stdout.split()
    assert sysctls == ["1", "1"]


def test_placement_never_picks_a_node_whose_libvirtd_is_down(cluster):
    lab("fault", "node3", "libvirtd")
    try:
        health = cluster.module("node3", "vmm.cloud.node_info")["node"]["health"]
        assert health["ok"] is False and health["problems"][0].startswith("libvirtd does not answer")
        out = create(cluster, "place1")
        assert "node3: libvirtd does not answer" in out
        assert cluster.where("place1") in (["node1"], ["node2"])
    finally:
        lab("heal", "node3")
    assert cluster.module("node3", "vmm.cloud.node_info")["node"]["health"] == {"ok": True, "problems": []}
    lab("fault", "node3", "link")
    try:
        out = create(cluster, "place2")
        assert "node3: unreachable: " in out
    finally:
        lab("heal", "node3")
    assert "node3" not in cluster.where("place2")
    for name in ("place1", "place2"):
        delete(cluster, name)
        assert cluster.where(name) == []


def test_concurrent_creates_never_overbook(cluster):
    # 2 vCPUs each against 2 CPUs x 1.0 per node: three of the four fit, one per node.
    policy = {"vmm_placement_policy": {"cpu_overcommit": 1.0}}
    argv = [str(BIN / "ansible-playbook"), "-i", str(cluster.inventory), str(ROOT / "playbooks" / "vm_create.yml")]
    procs = {name: subprocess.Popen(  # pylint: disable=consider-using-with
        argv + ["-e", json.dumps({**TINY, "vm_name": name, "vm_vcpus": 2, "vm_cluster": "lab", **policy})],
        cwd=ROOT, env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in ("crowd1", "crowd2", "crowd3", "crowd4")}
    outcomes = {name: (proc.wait(timeout=300), proc.stdout.read()) for name, proc in procs.items()}
    made = sorted(name for name, (rc, _) in outcomes.items() if rc == 0)
    assert len(made) == 3, {name: out[-1500:] for name, (_, out) in outcomes.items()}
    homes = sorted(node for name in made for node in cluster.where(name))
    assert homes == ["node1", "node2", "node3"]
    refused = [out for rc, out in outcomes.values() if rc != 0]
    assert "not enough vCPUs: 2 asked, 0 left of 2" in refused[0]
    for name in made:
        delete(cluster, name)


@pytest.mark.parametrize(("vm", "extra"), [("movshared", {"vm_ha": True}), ("movlocal", {})],
                         ids=["shared-storage", "storage-copy"])
def test_live_migration_both_ways_keeps_the_guest_running(cluster, vm, extra):
    create(cluster, vm, **extra)
    (home,) = cluster.where(vm)
    last = booted(cluster, home, vm)[-1]
    other = next(node for node in cluster.nodes("lab") if node != home)
    for source, target in ((home, other), (other, home)):
        recap, out = cluster.ok("vm_migrate.yml", {"vm_name": vm, "vm_target": target})
        assert recap["localhost"][1] >= 1, out[-2000:]
        assert cluster.where(vm) == [target]
        assert cluster.domains(target)[vm] == "running"
        # No reboot on the destination: no boot marker, and the guest's uptime goes on from where it was.
        later = wait_for(lambda t=target, before=last: [u for u in uptimes(cluster.console(t, vm)) if u > before],
                         timeout=30, what=f"{vm} ticking on {target}")
        assert "VMM-BOOT-OK" not in cluster.console(target, vm)
        last = later[-1]
        if not extra:  # a copied disk leaves the source
            assert cluster.ssh(source, f"test -e /var/lib/vmm/disks/{vm}.qcow2").returncode == 1
    if vm == "movlocal":
        delete(cluster, vm)


def test_stopped_vm_moves_with_its_disks(cluster):
    create(cluster, "movstopped", vm_state="stopped")
    (home,) = cluster.where("movstopped")
    other = next(node for node in cluster.nodes("lab") if node != home)
    cluster.ok("vm_migrate.yml", {"vm_name": "movstopped", "vm_target": other})
    assert cluster.where("movstopped") == [other]
    assert cluster.domains(other)["movstopped"] == "shutoff"
    assert cluster.ssh(home, "test -e /var/lib/vmm/disks/movstopped.qcow2").returncode == 1
    cluster.ok("vm_power.yml", {"vm_name": "movstopped", "vm_power": "running"})
    wait_for(lambda: "VMM-BOOT-OK hostname=movstopped" in cluster.console(other, "movstopped"), timeout=90,
             what="movstopped booting on its new node")
    delete(cluster, "movstopped")


def test_drain_moves_everything_off_and_placement_skips_the_node(cluster):
    create(cluster, "drained1")
    (node,) = cluster.where("drained1")
    before = booted(cluster, node, "drained1")[-1]
    cluster.ok("node_drain.yml", {"vmm_node": node})
    assert cluster.domains(node) == {}  # movshared too, if it was there
    (moved_to,) = cluster.where("drained1")
    assert moved_to != node
    wait_for(lambda: [u for u in uptimes(cluster.console(moved_to, "drained1")) if u > before], timeout=30,
             what="drained1 ticking after the drain")
    out = create(cluster, "drained2")
    assert f"{node}: in maintenance" in out
    cluster.ok("node_drain.yml", {"vmm_node": node, "vmm_maintenance": False})
    facts = json.loads(cluster.ssh(node, "cat /var/lib/vmm/node.json").stdout)
    assert facts["maintenance"] is False
    for name in ("drained1", "drained2"):
        delete(cluster, name)


def test_ha_vm_comes_back_on_a_healthy_node_once(cluster):
    (home,) = cluster.where("movshared")
    booted(cluster, home, "movshared")
    lab("fault", home, "power")
    try:
        _, out = cluster.ok("cluster_heal.yml", {"vmm_ha_confirm_timeout": 3})
        assert f"dead nodes: {home}" in out
        (new_home,) = [node for node in cluster.where("movshared") if node != home]
        assert f"HA: restarted movshared on {new_home}: its node {home} is dead" in out
        assert cluster.domains(new_home)["movshared"] == "running"
        wait_for(lambda: "VMM-BOOT-OK" in cluster.console(new_home, "movshared"), timeout=60,
                 what="movshared booting on its new node")
        _, again = cluster.ok("cluster_heal.yml", {"vmm_ha_confirm_timeout": 3})
        assert "HA VMs to restart: none" in again
    finally:
        lab("heal", home)
    # Back from the dead, the old node still has the VM defined: released, disks untouched.
    _, out = cluster.ok("cluster_heal.yml", {"vmm_ha_confirm_timeout": 3})
    assert "stale copies to release: movshared" in out
    assert cluster.where("movshared") == [new_home]
    assert cluster.domains(new_home)["movshared"] == "running"


def test_cluster_modules_twice_and_in_check_mode(cluster):
    # node_maintenance: check mode changes nothing, the second run nothing either.
    facts = lambda: json.loads(cluster.ssh("node2", "cat /var/lib/vmm/node.json").stdout)  # noqa: E731
    assert cluster.module("node2", "vmm.cloud.node_maintenance", {"enabled": True}, check=True)["changed"] is True
    assert facts()["maintenance"] is False
    assert cluster.module("node2", "vmm.cloud.node_maintenance", {"enabled": True})["changed"] is True
    assert cluster.module("node2", "vmm.cloud.node_maintenance", {"enabled": True})["changed"] is False
    assert cluster.module("node2", "vmm.cloud.node_maintenance", {"enabled": False})["changed"] is True
    assert facts()["maintenance"] is False

    # vm_migrate from the controller: check mode moves nothing; a second run finds it there already.
    (home,) = cluster.where("movshared")
    other = next(node for node in cluster.nodes("lab") if node != home)
    args = {"name": "movshared", "uri": cluster.uri(home), "dest_uri": cluster.uri(other),
            "migrate_uri": f"tcp://{cluster.ip(other)}", "unsafe": True}
    planned = cluster.module("localhost", "vmm.cloud.vm_migrate", args, check=True)
    assert planned["changed"] is True and cluster.where("movshared") == [home]
    assert cluster.module("localhost", "vmm.cloud.vm_migrate", args)["changed"] is True
    again = cluster.module("localhost", "vmm.cloud.vm_migrate", args)
    assert again["changed"] is False and again["migration"]["migrated"] is False
    assert cluster.where("movshared") == [other]

    # ha_vm: the VM's node, after a move outside the playbooks, takes the record with one run; then nothing.
    assert cluster.module(other, "vmm.cloud.ha_vm", {"name": "movshared"})["changed"] is True
    assert cluster.module(other, "vmm.cloud.ha_vm", {"name": "movshared"})["changed"] is False
    third = next(node for node in cluster.nodes("lab") if node not in (home, other))
    dry = cluster.module(third, "vmm.cloud.ha_vm", {"name": "movshared"}, check=True)
    assert dry["changed"] is True and "movshared" not in cluster.domains(third)


def test_routed_vm_is_reachable_at_its_32(cluster):
    address = "10.231.0.100"
    cluster.ok("vm_create.yml", {**TINY, "vm_name": "routed1", "vm_cluster": "edge",
                                 "vm_networks": [{"routed": address}]})
    wait_for(lambda: f"ip={address}" in cluster.console("node4", "routed1"), timeout=90, what="routed1 booting")
    routes = cluster.ssh("node4", f"ip route show {address}").stdout
    assert f"{address} dev vnet" in routes and f"src {cluster.ip('node4')}" in routes
    from_node = cluster.ssh("node4", f"python3 - {address} 3", stdin=PING)
    assert from_node.returncode == 0, from_node.stdout + from_node.stderr
    # Proxy ARP: the rest of the uplink's network reaches it through the node too.
    assert subprocess.run(["python3", str(ROOT / "tests" / "lab" / "ping.py"), address, "3"],
                          capture_output=True, check=False).returncode == 0


def test_routed_vm_from_an_additional_subnet(cluster):
    # An additional subnet the provider routes to the node's address (TEST-NET-3 here): same /32 per VM.
    address = "203.0.113.10"
    cluster.ok("vm_create.yml", {**TINY, "vm_name": "routed2", "vm_cluster": "edge",
                                 "vm_networks": [{"routed": address}]})
    wait_for(lambda: f"ip={address}" in cluster.console("node4", "routed2"), timeout=90, what="routed2 booting")
    assert cluster.ssh("node4", f"python3 - {address} 3", stdin=PING).returncode == 0
    # The provider's router: the subnet via the node. Here the lab bridge's host side plays it.
    subprocess.run(["ip", "route", "add", f"{address}/32", "via", cluster.ip("node4")], check=True)
    try:
        assert subprocess.run(["python3", str(ROOT / "tests" / "lab" / "ping.py"), address, "3"],
                              capture_output=True, check=False).returncode == 0
    finally:
        subprocess.run(["ip", "route", "del", f"{address}/32"], check=False)


def test_bridge_mode_vm_is_on_the_uplink_network(cluster):
    address = "10.231.0.101"
    cluster.ok("vm_create.yml", {**TINY, "vm_name": "bridged1", "vm_cluster": "br",
                                 "vm_networks": [{"bridge": "br0"}],
                                 "vm_cloud_init": {"network_config": {"version": 2, "ethernets": {
                                     "eth0": {"addresses": [f"{address}/24"]}}}}})
    wait_for(lambda: f"ip={address}" in cluster.console("node5", "bridged1"), timeout=90, what="bridged1 booting")
    assert subprocess.run(["python3", str(ROOT / "tests" / "lab" / "ping.py"), address, "3"],
                          capture_output=True, check=False).returncode == 0


def trusted(value):
    """ansible-inventory --list marks what an inventory plugin read from outside as unsafe; the value inside."""
    if isinstance(value, dict):
        return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else \
            {k: trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trusted(v) for v in value]
    return value


def test_inventory_plugin_lists_vms_across_nodes(cluster, tmp_path):
    source = tmp_path / "lab.vmm.yml"
    source.write_text(f"plugin: vmm.cloud.libvirt\nnode_inventory: {cluster.inventory}\n")
    listing = trusted(json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
                                                cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                                                check=True).stdout))
    hostvars = listing["_meta"]["hostvars"]
    assert hostvars["routed1"]["vmm_node"] == "node4"
    assert hostvars["routed1"]["ansible_host"] == "10.231.0.100"
    assert hostvars["routed1"]["vmm_cluster"] == "edge"
    assert hostvars["movshared"]["vmm_ha"] is True
    assert hostvars["movshared"]["vmm_state"] == "running"
    assert "movshared" in listing["vm_cluster_lab"]["hosts"]
    assert "bridged1" in listing["vm_node_node5"]["hosts"]
    # A node that does not answer is left out with a warning, the rest still listed.
    lab("fault", "node5", "sshd")
    try:
        proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"], cwd=ROOT,
                              env=ansible_env(), capture_output=True, text=True, check=True)
    finally:
        lab("heal", "node5")
    partial = trusted(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert "bridged1" not in partial and "routed1" in partial
    assert "node node5 left out" in proc.stderr
