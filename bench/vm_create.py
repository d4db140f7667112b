#!/usr/bin/env python3
"""Create+start of one VM from the demo image, three ways, in one run.

- ours:  ansible-playbook with vmm.cloud.vm (bench/playbooks/ours.yml)
- peer:  ansible-playbook with community.libvirt `virt` define + start and
         qemu-img / genisoimage through `command` (bench/playbooks/peer.yml)
- floor: libvirt-python directly (overlay + seed + defineXML + create)

Each round times the three in turn (the order rotates between rounds), then
deletes the VMs untimed. Prints every figure, the medians and the ratios.
Target (issue 2): ours at most 0.5x the peer's wall time.

    .venv/bin/python bench/vm_create.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libvirt

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IMAGE_NAME = "vmm-tiny"
IMAGE_PATH = Path("/var/lib/vmm/images/vmm-tiny.qcow2")
DISKS = Path("/var/lib/vmm/disks")

# "Domain not found" while cleaning up is expected; libvirt's default handler would print it
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

FLOOR_XML = (ROOT / "bench" / "playbooks" / "domain.xml.j2").read_text()


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    return env


def playbook(name, vm):
    def run():
        argv = [str(BIN / "ansible-playbook"), str(ROOT / "bench" / "playbooks" / name),
                "-e", json.dumps({"bench_name": vm, "bench_image": IMAGE_NAME, "bench_image_path": str(IMAGE_PATH)})]
        proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return run


def floor(vm):
    def run():
        disk, seed = DISKS / f"{vm}.qcow2", DISKS / f"{vm}-seed.iso"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(IMAGE_PATH), str(disk),
                        "1G"], check=True)
        with tempfile.TemporaryDirectory() as content:
            Path(content, "meta-data").write_text(f"instance-id: {vm}\nlocal-hostname: {vm}\n")
            Path(content, "user-data").write_text("#cloud-config\n{}\n")
            subprocess.run(["genisoimage", "-quiet", "-output", str(seed), "-volid", "cidata", "-joliet", "-rock",
                            content], check=True)
        conn = libvirt.open("qemu:///system")
        try:
            conn.defineXML(FLOOR_XML.replace("{{ bench_name }}", vm)).create()
        finally:
            conn.close()
    return run


def cleanup(conn, vm):
    try:
        dom = conn.lookupByName(vm)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    for path in (DISKS / f"{vm}.qcow2", DISKS / f"{vm}-seed.iso", Path(f"/var/log/vmm/console/{vm}.log")):
        path.unlink(missing_ok=True)
    shutil.rmtree(f"/tmp/{vm}-seed", ignore_errors=True)


def ensure_image():
    out = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True, check=True)
    src = out.stdout.strip().splitlines()[-1]
    argv = [str(BIN / "ansible"), "vmm_nodes", "-m", "vmm.cloud.image", "-a",
            json.dumps({"name": IMAGE_NAME, "src": src})]
    subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_image()
    conn = libvirt.open("qemu:///system")
    variants = {"ours": lambda vm: playbook("ours.yml", vm), "peer": lambda vm: playbook("peer.yml", vm),
                "floor": floor}
    times = {name: [] for name in variants}
    order = list(variants)
    for round_no in range(args.rounds):
        for name in order:
            vm = f"bench-{name}-{round_no}"
            cleanup(conn, vm)
            run = variants[name](vm)
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
            if conn.lookupByName(vm).isActive() != 1:
                raise SystemExit(f"{vm} is not running after {name}")
            cleanup(conn, vm)
        order = order[1:] + order[:1]
    conn.close()
    print(f"create+start of one VM from the demo image, {args.rounds} rounds (seconds)")
    for name, values in times.items():
        print(f"  {name:5}  median {statistics.median(values):6.3f}  min {min(values):6.3f}  max {max(values):6.3f}"
              f"  all {' '.join(f'{v:.3f}' for v in values)}")
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"  ours/peer  = {med['ours'] / med['peer']:.2f}  (target <= 0.50)")
    print(f"  ours/floor = {med['ours'] / med['floor']:.2f}")
    print(f"  peer/floor = {med['peer'] / med['floor']:.2f}")


if __name__ == "__main__":
    main()
