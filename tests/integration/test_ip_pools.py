"""IP pools on the real node: addresses from pools with the VMs as the only record, checked against every VM,
freed by deleting the VM, never handed out twice by concurrent creates."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libvirt
from lxml import etree

from .ansible_run import BIN, ROOT, ansible_env, run_playbook, run_task, run_tasks
from .conftest import vm_files

POOL = {"name": "it-pool4", "network": "default", "subnet": "10.251.0.0/24", "ranges": ["10.251.0.10-10.251.0.15"],
        "gateway": "10.251.0.1", "dns": ["10.251.0.53"]}
POOL6 = {"name": "it-pool6", "network": "default", "subnet": "fd00:251::/64", "ranges": ["fd00:251::10-fd00:251::1f"],
         "gateway": "fd00:251::1"}
NS = {"vmm": "https://vmm.dev/xmlns/vm/1.0"}


def vm_args(name, image, **extra):
    return {"name": name, "image": image, "memory": 64, "domain_type": "qemu", "state": "present",
            "ip_pools": [POOL, POOL6], **extra}


def pool_usage(pools=(POOL, POOL6)):
    result = run_task("vmm.cloud.ip_pool_info", {"ip_pools": list(pools), "uri": "qemu:///system"})
    assert not result.get("failed"), result
    return {pool["name"]: pool for pool in result["pools"]}


def test_pool_addresses_held_by_the_vm(image, vm_name, conn):
    planned = run_task("vmm.cloud.vm", vm_args(vm_name, image), check=True)
    assert planned["changed"] and not planned.get("failed"), planned
    assert [a["address"] for a in planned["vm"]["interfaces"][0]["addresses"]] == ["10.251.0.10", "fd00:251::10"]
    assert vm_files(vm_name) == [] and vm_name not in conn.listDefinedDomains()  # check mode made nothing

    created = run_task("vmm.cloud.vm", vm_args(vm_name, image), diff=True)
    assert created["changed"] and not created.get("failed"), created
    nic = created["vm"]["interfaces"][0]
    assert nic["addresses"] == [
        {"address": "10.251.0.10", "prefix": 24, "gateway": "10.251.0.1", "pool": "it-pool4"},
        {"address": "fd00:251::10", "prefix": 64, "gateway": "fd00:251::1", "pool": "it-pool6"}]
    assert set(created["vm"]["ips"]) >= {"10.251.0.10", "fd00:251::10"}
    # the definition is the record: metadata by MAC, and the NIC bound to the anti-spoofing filter with them
    root = etree.fromstring(conn.lookupByName(vm_name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).encode())
    held = root.findall(".//vmm:ips/vmm:ip", NS)
    assert [(ip.text, ip.get("mac"), ip.get("pool")) for ip in held] == [
        ("10.251.0.10", nic["mac"], "it-pool4"), ("fd00:251::10", nic["mac"], "it-pool6")]
    filterref = root.find("devices/interface/filterref")
    assert filterref.get("filter") == "vmm-clean-traffic"
    assert [(p.get("name"), p.get("value")) for p in filterref] == [("IP", "10.251.0.10"), ("IPV6", "fd00:251::10")]
    assert conn.nwfilterLookupByName("vmm-clean-traffic").name() == "vmm-clean-traffic"
    # the seed tells the guest: static addresses, the pool's gateway and DNS
    seed = subprocess.run(["isoinfo", "-R", "-x", "/network-config", "-i", f"/var/lib/vmm/disks/{vm_name}-seed.iso"],
                          capture_output=True, text=True, check=True).stdout
    eth0 = json.loads(seed)["ethernets"]["eth0"]
    assert eth0["addresses"] == ["10.251.0.10/24", "fd00:251::10/64"] and eth0["gateway4"] == "10.251.0.1"
    assert eth0["nameservers"] == {"addresses": ["10.251.0.53"]} and "dhcp4" not in eth0

    again = run_task("vmm.cloud.vm", vm_args(vm_name, image))
    assert not again["changed"], again
    assert again["vm"]["interfaces"][0]["addresses"] == nic["addresses"]

    usage = pool_usage()
    assert (usage["it-pool4"]["used"], usage["it-pool4"]["free"], usage["it-pool4"]["addresses"]) == (1, 5,
                                                                                                       ["10.251.0.10"])
    assert (usage["it-pool6"]["used"], usage["it-pool6"]["size"]) == (1, 16)

    other = f"{vm_name}-b"
    taken = run_task("vmm.cloud.vm", vm_args(other, image, networks=[{"network": "default", "ipv4": "10.251.0.10"}]))
    assert taken.get("failed") and taken["field"] == "networks[0].ipv4", taken
    assert taken["msg"] == f"networks[0].ipv4: 10.251.0.10 is in use by VM {vm_name}"
    assert vm_files(other) == [] and other not in conn.listDefinedDomains()  # nothing left half-made

    deleted = run_task("vmm.cloud.vm", {"name": vm_name, "state": "absent"})
    assert deleted["changed"], deleted
    assert pool_usage()["it-pool4"]["used"] == 0  # deleting the VM freed its addresses, by that alone


def test_bad_pools_refused(image, vm_name, conn):
    bad = dict(POOL, gateway="10.9.9.1")
    result = run_task("vmm.cloud.vm", {**vm_args(vm_name, image), "ip_pools": [bad]})
    assert result.get("failed") and result["field"] == "ip_pools[0].gateway", result
    assert "10.9.9.1" in result["msg"] and "10.251.0.0/24" in result["msg"]
    overlapping = dict(POOL6, name="it-other", subnet="10.251.0.0/16", ranges=["10.251.0.15-10.251.0.20"],
                       gateway=None)
    result = run_task("vmm.cloud.ip_pool_info", {"ip_pools": [POOL, overlapping]})
    assert result.get("failed") and result["field"].startswith("ip_pools[1]") and "it-pool4" in result["msg"], result
    assert vm_files(vm_name) == [] and vm_name not in conn.listDefinedDomains()


def create(name, image, pools):
    """One vm_create.yml run, as a user runs it: (returncode, the create task's result)."""
    extra = {"vm_name": name, "vm_image": image, "vm_memory": 64, "vm_domain_type": "qemu", "vm_state": "present",
             "vm_networks": [{"network": "default", "ipv6": "none"}], "vmm_ip_pools": pools}
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / "vm_create.yml"),
                           "-e", json.dumps(extra)], cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    report = json.loads(proc.stdout)
    results = {task["task"]["name"]: next(iter(task["hosts"].values()))
               for play in report["plays"] for task in play["tasks"]}
    if proc.returncode != 0:  # the pool's refusal comes from placement, before anything is made
        return proc.returncode, results["Choose the node"]
    return proc.returncode, results["Create the VM"]


def test_eight_concurrent_creates_on_a_pool_of_six(image, conn):
    names = [f"it-conc{index}" for index in range(8)]
    pools = [POOL]
    try:
        with ThreadPoolExecutor(max_workers=8) as workers:
            results = list(workers.map(lambda name: create(name, image, pools), names))
        made = [result["vm"] for rc, result in results if rc == 0]
        refused = [result for rc, result in results if rc != 0]
        addresses = [vm["interfaces"][0]["addresses"][0]["address"] for vm in made]
        assert len(made) == 6 and sorted(addresses) == [f"10.251.0.{i}" for i in range(10, 16)], results
        assert len(refused) == 2, results
        for result in refused:
            assert result["field"] == "networks[0].ipv4", result
            assert result["msg"] == "networks[0].ipv4: no free IPv4 address in pool it-pool4 (6 of 6 used)"
        defined = [name for name in names if name in conn.listDefinedDomains()]
        assert len(defined) == 6
        assert sorted(Path(p).name for name in names for p in vm_files(name)) == sorted(
            f"{vm['name']}{suffix}" for vm in made for suffix in (".qcow2", "-seed.iso"))  # refusals left nothing
        assert pool_usage(pools)["it-pool4"]["free"] == 0
    finally:
        for name in names:
            run_task("vmm.cloud.vm", {"name": name, "state": "absent"})
    assert all(vm_files(name) == [] for name in names)


def test_a_create_done_after_the_facts_were_read_still_holds_its_address(tmp_path):
    """The race of concurrent creates, in order: B reads the node's facts, A is placed, created and released,
    then B is placed on its facts, which do not show A's VM. A's reservation, kept as done, still counts for B,
    and stops counting for facts read after A was done."""
    facts = run_task("vmm.cloud.node_info", {})
    assert not facts.get("failed") and "node" in facts, facts
    node = "itnode"
    common = {"nodes": {node: facts}, "ip_pools": [POOL], "networks": [{"network": "default"}], "memory": 64,
              "ledger": str(tmp_path / "reservations.json")}
    before = time.time()  # when B (and A) read the facts
    results = run_tasks([
        ("vmm.cloud.placement", dict(common, name="it-race-a", facts_since=before)),
        ("vmm.cloud.placement", {"name": "it-race-a", "state": "released", "created": True,
                                 "ledger": common["ledger"]}),
        ("vmm.cloud.placement", dict(common, name="it-race-b", facts_since=before)),
    ])
    assert [r.get("failed", False) for r in results] == [False] * 3, results
    first = results[0]["networks"][0]["ipv4"]
    assert first == "10.251.0.10" and results[2]["networks"][0]["ipv4"] == "10.251.0.11", results
    ledger = json.loads((tmp_path / "reservations.json").read_text())
    assert [(r["vm"], r["addresses"], "done" in r) for r in ledger] == [
        ("it-race-a", [first], True), ("it-race-b", ["10.251.0.11"], False)]
    # facts read after A was done: they would show its VM, here that it is gone (never created): .10 is free again
    later = run_task("vmm.cloud.placement", dict(common, name="it-race-c", facts_since=time.time()))
    assert later["networks"][0]["ipv4"] == "10.251.0.10", later
    # a failed create's reservation goes at once
    gone = run_task("vmm.cloud.placement", {"name": "it-race-b", "state": "released", "ledger": common["ledger"]})
    assert gone["changed"], gone
    assert "it-race-b" not in [r["vm"] for r in json.loads((tmp_path / "reservations.json").read_text())]


def test_pools_playbooks(image, vm_name):
    created = run_task("vmm.cloud.vm", vm_args(vm_name, image))
    assert created["changed"], created
    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_address.yml", extra_vars={
        "vm_name": vm_name, "vm_address": "fd00:251::1f", "vmm_ip_pools": [POOL, POOL6]})
    assert rc == 0, out + err
    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_address.yml", extra_vars={
        "vm_name": vm_name, "vm_address": "10.251.0.300", "vmm_ip_pools": [POOL, POOL6]})
    assert rc != 0 and '"field": "address"' in out, out
    rc, out, err = run_playbook(ROOT / "playbooks" / "ip_pools.yml", extra_vars={"vmm_ip_pools": [POOL, POOL6]})
    assert rc == 0, out + err
    counted = [task for play in json.loads(out)["plays"] for task in play["tasks"]
               if task["task"]["name"] == "Check the pools and count what the VMs hold"]
    pools = counted[0]["hosts"]["localhost"]["pools"]
    assert [(p["name"], p["used"], p["free"]) for p in pools] == [("it-pool4", 1, 5), ("it-pool6", 2, 14)]


def binding_parameters(conn, vm_name):
    """(filter, [(name, value)]) of the running VM's nwfilter binding."""
    for binding in conn.listAllNWFilterBindings():
        root = etree.fromstring(binding.XMLDesc().encode())
        if root.findtext("owner/name") == vm_name:
            params = [(p.get("name"), p.get("value")) for p in root.iterfind("filterref/parameter")
                      if p.get("name") in ("IP", "IPV6")]
            return root.find("filterref").get("filter"), params
    return None, []


def test_vm_address_adds_and_gives_back_an_address(image, vm_name, conn):
    base = vm_args(vm_name, image, state="running", ip_pools=[POOL], networks=[{"network": "default"}])
    created = run_task("vmm.cloud.vm", base)
    assert created["changed"] and created["vm"]["state"] == "running", created
    assert binding_parameters(conn, vm_name) == ("clean-traffic", [("IP", "10.251.0.10")])
    address = {"name": vm_name, "ip_pools": [POOL]}

    planned = run_task("vmm.cloud.vm_address", {**address, "count": 2}, check=True)
    assert planned["changed"] and [a["address"] for a in planned["vm"]["addresses"]] == ["10.251.0.10", "10.251.0.11"]
    assert pool_usage([POOL])["it-pool4"]["used"] == 1  # check mode changed nothing

    added = run_task("vmm.cloud.vm_address", {**address, "count": 2}, diff=True)
    assert added["changed"], added
    assert added["diff"] == {"before": {"addresses": ["10.251.0.10"]},
                             "after": {"addresses": ["10.251.0.10", "10.251.0.11"]}}
    assert added["applied_live"] == ["filter"] and added["pending_restart"] == ["addresses"], added
    # the running guest's filter lets the new address out at once; the seed tells the guest at its next boot
    assert binding_parameters(conn, vm_name) == ("clean-traffic", [("IP", "10.251.0.10"), ("IP", "10.251.0.11")])
    seed = subprocess.run(["isoinfo", "-R", "-x", "/network-config", "-i", f"/var/lib/vmm/disks/{vm_name}-seed.iso"],
                          capture_output=True, text=True, check=True).stdout
    assert json.loads(seed)["ethernets"]["eth0"]["addresses"] == ["10.251.0.10/24", "10.251.0.11/24"]
    user_data = subprocess.run(["isoinfo", "-R", "-x", "/user-data", "-i", f"/var/lib/vmm/disks/{vm_name}-seed.iso"],
                               capture_output=True, text=True, check=True).stdout
    assert f'"hostname": "{vm_name.replace("_", "-")}"' in user_data  # the rest of the seed as it was
    assert pool_usage([POOL])["it-pool4"]["addresses"] == ["10.251.0.10", "10.251.0.11"]

    assert not run_task("vmm.cloud.vm_address", {**address, "count": 2})["changed"]
    again = run_task("vmm.cloud.vm", base)  # the VM's own module keeps what vm_address added
    assert not again["changed"], again
    assert [a["address"] for a in again["vm"]["interfaces"][0]["addresses"]] == ["10.251.0.10", "10.251.0.11"]

    other = f"{vm_name}-b"
    try:
        refused = run_task("vmm.cloud.vm", vm_args(other, image, ip_pools=[POOL],
                                                   networks=[{"network": "default", "ipv4": "10.251.0.11"}]))
        assert refused.get("failed") and refused["msg"] == f"networks[0].ipv4: 10.251.0.11 is in use by VM {vm_name}"
    finally:
        run_task("vmm.cloud.vm", {"name": other, "state": "absent"})

    bad = run_task("vmm.cloud.vm_address", {**address, "address": "10.251.0.99; id"})
    assert bad.get("failed") and bad["field"] == "address", bad
    bad = run_task("vmm.cloud.vm_address", {**address, "nic": 3})
    assert bad.get("failed") and bad["field"] == "nic" and "has 1 NIC(s)" in bad["msg"], bad

    removed = run_task("vmm.cloud.vm_address", {**address, "address": "10.251.0.11", "state": "absent"})
    assert removed["changed"] and [a["address"] for a in removed["vm"]["addresses"]] == ["10.251.0.10"], removed
    assert binding_parameters(conn, vm_name) == ("clean-traffic", [("IP", "10.251.0.10")])
    assert not run_task("vmm.cloud.vm_address", {**address, "address": "10.251.0.11", "state": "absent"})["changed"]
    assert pool_usage([POOL])["it-pool4"]["used"] == 1


def test_pools_from_the_nodes_group_variables(image, vm_name, tmp_path, conn):
    """Pools declared where users declare them, as group variables of vmm_nodes: the controller's plays
    (placement, the count) see them through the nodes, not as their own variables."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"vmm_nodes": {
        "vars": {"vmm_ip_pools": [POOL]},
        "children": {"cluster_local": {"hosts": {"it-node": {  # not `localhost`: the controller is not a node here
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}}}))
    extra = {"vm_name": vm_name, "vm_image": image, "vm_memory": 64, "vm_domain_type": "qemu", "vm_state": "present",
             "vm_networks": [{"network": "default"}]}
    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_create.yml", "-i", str(inventory), extra_vars=extra)
    assert rc == 0, out + err
    root = etree.fromstring(conn.lookupByName(vm_name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).encode())
    assert [ip.text for ip in root.findall(".//vmm:ips/vmm:ip", NS)] == ["10.251.0.10"]
    rc, out, err = run_playbook(ROOT / "playbooks" / "ip_pools.yml", "-i", str(inventory))
    assert rc == 0, out + err
    counted = [task for play in json.loads(out)["plays"] for task in play["tasks"]
               if task["task"]["name"] == "Check the pools and count what the VMs hold"]
    assert [(p["name"], p["used"]) for p in counted[0]["hosts"]["localhost"]["pools"]] == [("it-pool4", 1)]
