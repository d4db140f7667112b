#!/usr/bin/env python3
"""Reinstall against create, in one run (issue 12): the wall time of the whole ansible-playbook run of
playbooks/vm_reinstall.yml (a new system disk and seed for the VM, powered off and started again) against
playbooks/vm_create.yml (placement, overlay, seed, define, start) of the same VM, from the demo image.

Each round creates the VM (timed), reinstalls it twice (timed; the first with a new cloud_init, the second
keeping the seed), then deletes it untimed. Prints every figure, the medians and the ratios.

    .venv/bin/python bench/vm_reinstall.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.ansible_run import BIN, ansible_env, run_task  # noqa: E402

IMAGE = "bench-tiny"
VM = "bench-reinstall"


def playbook(name, extra_vars):
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / name), "-e",
                           json.dumps(extra_vars)], cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                          check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    built = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True, check=True)
    assert not run_task("vmm.cloud.image", {"name": IMAGE, "src": built.stdout.strip().splitlines()[-1]}).get("failed")
    run_task("vmm.cloud.vm", {"name": VM, "state": "absent", "shutdown_timeout": 0})
    times = {"create": [], "reinstall (new seed)": [], "reinstall (same seed)": []}
    try:
        for n in range(args.rounds):
            times["create"].append(playbook("vm_create.yml", {"vm_name": VM, "vm_image": IMAGE, "vm_memory": 128,
                                                              "vm_domain_type": "qemu"}))
            times["reinstall (new seed)"].append(playbook("vm_reinstall.yml", {
                "vm_name": VM, "vm_cloud_init": {"hostname": f"round-{n}", "password": f"pw-{n}"}}))
            times["reinstall (same seed)"].append(playbook("vm_reinstall.yml", {"vm_name": VM}))
            run_task("vmm.cloud.vm", {"name": VM, "state": "absent", "shutdown_timeout": 0})
    finally:
        run_task("vmm.cloud.vm", {"name": VM, "state": "absent", "shutdown_timeout": 0})
        run_task("vmm.cloud.image", {"name": IMAGE, "state": "absent"})
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:24} median {medians[name]:.2f} s   runs " + " ".join(f"{v:.2f}" for v in values))
    for name in ("reinstall (new seed)", "reinstall (same seed)"):
        print(f"{name} / create: x{medians[name] / medians['create']:.2f}")


if __name__ == "__main__":
    main()
