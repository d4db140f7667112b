#!/usr/bin/env python3
"""Backup throughput against qemu-img convert of the same disk, in one run (issue 12).

A VM (running, so the backup goes through libvirt's backup API) has an overlay on a 2 GiB image holding
--random-mib MiB of random bytes and as much text (compressible). Each round times:

- ours:  an ansible-playbook run of vmm.cloud.vm_backup of the running VM (freeze attempt, pull backup over NBD,
         qemu-img convert -c, SHA-256, metadata), into a fresh store;
- peer:  `qemu-img convert -c -O qcow2` of the same disk (its backing chain merged in), as a backup by hand;
- floor: `qemu-img convert -O qcow2` without compression.

Prints every figure, the medians, MiB/s of the disk's data and the ratios.

    .venv/bin/python bench/vm_backup.py --rounds 3
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.ansible_run import BIN, ansible_env, run_task  # noqa: E402

IMAGE, VM = "bench-backup-data", "bench-backup"


def make_image(workdir, random_mib):
    raw = Path(workdir, "data.raw")
    with open(raw, "wb") as handle:
        handle.write(os.urandom(random_mib * 1024 * 1024))
        text = b" ".join(Path("/usr/share/common-licenses/GPL-3").read_bytes().split()) + b"\n"
        written = 0
        while written < random_mib * 1024 * 1024:
            handle.write(text)
            written += len(text)
        handle.truncate(2 * 1024 ** 3)
    qcow2 = Path(workdir, "data.qcow2")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    raw.unlink()
    return qcow2


def timed(argv, **kwargs):
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--random-mib", type=int, default=256)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="vmm-bench-backup-")
    run_task("vmm.cloud.vm", {"name": VM, "state": "absent", "shutdown_timeout": 0})
    times = {"ours": [], "peer": [], "floor": []}
    try:
        source = make_image(workdir, args.random_mib)
        assert not run_task("vmm.cloud.image", {"name": IMAGE, "src": str(source)}).get("failed")
        vm = run_task("vmm.cloud.vm", {"name": VM, "image": IMAGE, "memory": 128, "domain_type": "qemu",
                                       "console": {"type": "none"}, "state": "running"})["vm"]
        disk = vm["disks"][0]["path"]
        data = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output", "json", "--backing-chain", disk],
                                         capture_output=True, check=True).stdout)
        allocated = sum(layer["actual-size"] for layer in data)
        for n in range(args.rounds):
            store = Path(workdir, f"store{n}")
            play = [{"hosts": "vmm_nodes", "gather_facts": False, "tasks": [{"vmm.cloud.vm_backup": {
                "vm": VM, "backup": "b", "store": str(store)}}]}]
            playbook = Path(workdir, "backup.yml")
            playbook.write_text(json.dumps(play))
            times["ours"].append(timed([str(BIN / "ansible-playbook"), str(playbook)], cwd=ROOT, env=ansible_env()))
            shutil.rmtree(store)
            for name, extra in (("peer", ["-c"]), ("floor", [])):
                out = Path(workdir, f"{name}.qcow2")
                times[name].append(timed(["qemu-img", "convert", "-U", *extra, "-f", "qcow2", "-O", "qcow2", disk,
                                          str(out)]))
                out.unlink()
    finally:
        run_task("vmm.cloud.vm", {"name": VM, "state": "absent", "shutdown_timeout": 0})
        run_task("vmm.cloud.image", {"name": IMAGE, "state": "absent"})
        shutil.rmtree(workdir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"disk: 2 GiB virtual, {allocated / 1024 ** 2:.0f} MiB allocated over its chain "
          f"({args.random_mib} MiB random, as much text)")
    for name, values in times.items():
        print(f"{name:6} median {medians[name]:.2f} s  {allocated / 1024 ** 2 / medians[name]:.0f} MiB/s   runs "
              + " ".join(f"{v:.2f}" for v in values))
    print(f"ours / peer (qemu-img convert -c): x{medians['ours'] / medians['peer']:.2f}; "
          f"ours / floor (uncompressed): x{medians['ours'] / medians['floor']:.2f}")


if __name__ == "__main__":
    main()
