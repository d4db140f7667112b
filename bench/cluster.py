#!/usr/bin/env python3
"""Cluster figures on the lab (tests/lab/lab), each against a peer or a baseline measured in the same run.

    .venv/bin/python bench/cluster.py bootstrap --sizes 1 2 4
        node_bootstrap.yml wall time on fresh lab nodes (first run, with the qemu probe) and again (second run,
        nothing to change), for N nodes; the ratio to N=1 shows how it grows.
    .venv/bin/python bench/cluster.py migrate --rounds 5
        live migration of a running tiny VM between two nodes, shared storage and with storage copy:
        vmm.cloud.vm_migrate's own time and the whole vm_migrate.yml run, against `virsh migrate --live`
        (the peer) on the same VM and path.
    .venv/bin/python bench/cluster.py placement --nodes 1000 --rounds 20
        the placement decision over 1,000 simulated nodes' facts: the pure function, and the
        vmm.cloud.placement action through ansible-playbook (ledger and lock included) against a
        trivial ansible-playbook run (the floor of any playbook).

Run as root; `bootstrap` and `migrate` bring the lab up and down themselves (any lab up is torn down).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LAB = ROOT / "tests" / "lab" / "lab"
IMAGE = "/var/cache/vmm/images/vmm-tiny.qcow2"
BOOTSTRAP_VARS = {"node_probe_image": IMAGE, "node_probe_types": ["qemu"], "node_probe_timeout": 60}
SSH = ["ssh", "-F", "/var/lib/vmm-lab/ssh/config"]

sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.vmm.cloud.plugins.module_utils.placement import GIB, place  # noqa: E402


def env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def run(argv, **kwargs):
    proc = subprocess.run(argv, cwd=ROOT, env=env(), capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def timed(argv):
    started = time.perf_counter()
    out = run(argv)
    return time.perf_counter() - started, out


def lab_up(nodes):
    run([str(LAB), "down"])
    return run([str(LAB), "up", "--nodes", str(nodes)]).strip().splitlines()[-1]


def playbook(inventory, name, extra):
    return [str(BIN / "ansible-playbook"), "-i", inventory, str(ROOT / "playbooks" / name), "-e", json.dumps(extra)]


def median(values):
    return statistics.median(values)


# --- bootstrap ---------------------------------------------------------------

def bench_bootstrap(args):
    run([str(ROOT / "scripts" / "build-demo-image")])
    rows = []
    for size in args.sizes:
        inventory = lab_up(size)
        first, _ = timed(playbook(inventory, "node_bootstrap.yml", BOOTSTRAP_VARS))
        second, _ = timed(playbook(inventory, "node_bootstrap.yml", BOOTSTRAP_VARS))
        rows.append((size, first, second))
        print(f"N={size}: first run {first:.1f} s, second run {second:.1f} s", flush=True)
    run([str(LAB), "down"])
    base_first, base_second = rows[0][1], rows[0][2]
    print("\nnodes  first run (s)  x N=1   second run (s)  x N=1")
    for size, first, second in rows:
        print(f"{size:5}  {first:13.1f}  {first / base_first:5.2f}   {second:14.1f}  {second / base_second:5.2f}")


# --- migration ---------------------------------------------------------------

def domain_on(node_ip, vm):
    out = subprocess.run(SSH + [node_ip, "virsh", "list", "--name"], capture_output=True, text=True,
                         check=False).stdout
    return vm in out.split()


def bench_migrate(args):
    run([str(ROOT / "scripts" / "build-demo-image")])
    inventory = lab_up(2)
    run(playbook(inventory, "node_bootstrap.yml", BOOTSTRAP_VARS))
    run([str(BIN / "ansible"), "-i", inventory, "node1", "-m", "vmm.cloud.image", "-a",
         json.dumps({"name": "tiny", "src": IMAGE})])
    nodes = {"node1": "10.231.0.11", "node2": "10.231.0.12"}
    wrapper = "/var/lib/vmm-lab/ssh/ssh"
    results = {}
    for label, extra in (("shared storage", {"vm_ha": True}), ("storage copy", {})):
        vm = "benchmig-" + ("shared" if extra else "copy")
        run(playbook(inventory, "vm_create.yml", {"vm_name": vm, "vm_image": "tiny", "vm_memory": 128, **extra}))
        time.sleep(5)  # let it boot: a live guest, not a starting one
        ours, module, peer = [], [], []
        for round_number in range(args.rounds):
            # Both directions for both tools: ours goes first on even rounds, virsh on odd ones.
            for tool in (("ours", "virsh") if round_number % 2 == 0 else ("virsh", "ours")):
                here = next(n for n, ip in nodes.items() if domain_on(ip, vm))
                there = next(n for n in nodes if n != here)
                if tool == "ours":
                    seconds, out = timed(playbook(inventory, "vm_migrate.yml", {"vm_name": vm, "vm_target": there})
                                         + ["-v"])
                    ours.append(seconds)
                    module.append(float(re.search(r'"seconds": ([0-9.]+)', out).group(1)))
                    continue
                # The peer: libvirt's own CLI on the same path.
                flags = ["--live", "--persistent", "--undefinesource"]
                flags += ["--unsafe"] if extra else ["--copy-storage-inc"]
                if not extra:  # virsh needs the destination's disk and seed in place, as vm_migrate makes them
                    prepare_copy_destination(nodes[here], nodes[there], vm)
                started = time.perf_counter()
                run(["virsh", "-c", f"qemu+ssh://root@{nodes[here]}/system?command={wrapper}", "migrate", *flags, vm,
                     f"qemu+ssh://root@{nodes[there]}/system?command={wrapper}", f"tcp://{nodes[there]}"])
                peer.append(time.perf_counter() - started)
                if not extra:
                    run(SSH + [nodes[here], "rm", "-f", f"/var/lib/vmm/disks/{vm}.qcow2",
                               f"/var/lib/vmm/disks/{vm}-seed.iso"])
                # vmm's records follow the VM, as after any move outside vmm: one vm run on its new node.
                run([str(BIN / "ansible"), "-i", inventory, there, "-m", "vmm.cloud.vm", "-a",
                     json.dumps({"name": vm, "state": "present"})])
        results[label] = (module, ours, peer)
        run(playbook(inventory, "vm_delete.yml", {"vm_name": vm}))
    run([str(LAB), "down"])
    print(f"\n{'live migration':16} {'vm_migrate module':>18} {'vm_migrate.yml':>15} {'virsh migrate':>14} "
          f"{'module/virsh':>13}")
    for label, (module, ours, peer) in results.items():
        print(f"{label:16} {median(module):17.2f}s {median(ours):14.2f}s {median(peer):13.2f}s "
              f"{median(module) / median(peer):13.2f}")
    print(f"(medians of {args.rounds} migrations each, both directions, alternating which tool goes first)")


def prepare_copy_destination(source_ip, dest_ip, vm):
    """What vm_migrate does before a copy migration: an empty twin overlay and the seed on the destination."""
    info = json.loads(subprocess.run(SSH + [source_ip, "qemu-img", "info", "-U", "--output=json",
                                            f"/var/lib/vmm/disks/{vm}.qcow2"], capture_output=True, text=True,
                                     check=True).stdout)
    run(SSH + [dest_ip, "qemu-img", "create", "-q", "-f", "qcow2", "-F", info["backing-filename-format"], "-b",
               info["backing-filename"], f"/var/lib/vmm/disks/{vm}.qcow2", str(info["virtual-size"])])
    seed = subprocess.run(SSH + [source_ip, "cat", f"/var/lib/vmm/disks/{vm}-seed.iso"], capture_output=True,
                          check=True).stdout
    subprocess.run(SSH + [dest_ip, "cat", ">", f"/var/lib/vmm/disks/{vm}-seed.iso"], input=seed, check=True)


# --- placement ---------------------------------------------------------------

def simulated_nodes(count, seed=7):
    rng = random.Random(seed)
    nodes = {}
    for i in range(count):
        vms = [{"name": f"vm{i}-{j}", "memory_mib": rng.choice([512, 1024, 2048, 4096]), "vcpus": rng.choice([1, 2, 4]),
                "active": True} for j in range(rng.randint(0, 40))]
        node = {"libvirtd_alive": rng.random() > 0.02, "error": None, "maintenance": rng.random() < 0.03,
                "domain_type": "kvm", "memory_total_mib": rng.choice([65536, 131072, 262144]),
                "cpus": rng.choice([16, 32, 64]), "vms": vms,
                "pools": [{"name": "vmm", "active": True, "available": rng.randint(50, 4000) * GIB}]}
        nodes[f"node{i:04}"] = {"unreachable": True, "msg": "timeout"} if rng.random() < 0.01 else {"node": node}
    return nodes


def bench_placement(args):
    nodes = simulated_nodes(args.nodes)
    request = {"memory_mib": 4096, "vcpus": 2, "disk_gib": 40, "pool": "vmm"}
    pure = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        chosen, verdicts = place(nodes, request)
        pure.append(time.perf_counter() - started)
    skipped = sum(1 for v in verdicts if not v["ok"])
    with tempfile.TemporaryDirectory() as tmp:
        facts = Path(tmp) / "nodes.json"
        facts.write_text(json.dumps(nodes))
        book = Path(tmp) / "place.yml"
        book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"vmm.cloud.placement": {"name": "bench1", "memory": 4096, "vcpus": 2, "disk_size": 40,
                                     "nodes": "{{ lookup('file', '" + str(facts) + "') | from_json }}",
                                     "ledger": f"{tmp}/ledger.json"}},
            {"vmm.cloud.placement": {"name": "bench1", "state": "released", "ledger": f"{tmp}/ledger.json"}}]}]))
        floor_book = Path(tmp) / "floor.yml"
        floor_book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                           "tasks": [{"ansible.builtin.debug": {"msg": "x"}}]}]))
        action, trivial = [], []
        for _ in range(max(3, args.rounds // 4)):
            action.append(timed([str(BIN / "ansible-playbook"), str(book)])[0])
            trivial.append(timed([str(BIN / "ansible-playbook"), str(floor_book)])[0])
    print(f"{args.nodes} simulated nodes: chose {chosen}, skipped {skipped} with reasons")
    print(f"placement function: median {median(pure) * 1000:.1f} ms, max {max(pure) * 1000:.1f} ms "
          f"({args.rounds} rounds)")
    print(f"ansible-playbook with vmm.cloud.placement (choose + release): median {median(action):.2f} s; "
          f"a one-debug-task playbook: {median(trivial):.2f} s; difference {median(action) - median(trivial):.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="what", required=True)
    boot = sub.add_parser("bootstrap")
    boot.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    mig = sub.add_parser("migrate")
    mig.add_argument("--rounds", type=int, default=5)
    plc = sub.add_parser("placement")
    plc.add_argument("--nodes", type=int, default=1000)
    plc.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    {"bootstrap": bench_bootstrap, "migrate": bench_migrate, "placement": bench_placement}[args.what](args)


if __name__ == "__main__":
    main()
