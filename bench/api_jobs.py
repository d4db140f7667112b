#!/usr/bin/env python3
"""The jobs API against ansible-runner alone, in one run, on a throw-away SQLite database.

1. Overhead per job: the trivial operation node_info through the API (POST, then
   GET until it has ended) against `ansible-runner run` of the same playbook
   directly. Rounds alternate; medians and the difference are printed.
   Target (issue 3): API overhead under 0.5 s per job.
2. Throughput with 2 workers: N node_info jobs on 4 targets through the API
   against the same N runs as 2 parallel `ansible-runner run` processes.
3. Latency of GET /api/v1/jobs (a page of 50): idle, and while 4 jobs run (4 workers).
   Target: p99 under 50 ms while 4 jobs run.

    .venv/bin/python bench/api_jobs.py --rounds 5 --jobs 12
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAYBOOK = "playbooks/node_info.yml"
LIMITS = ("localhost", "vmm_nodes", "cluster_local", "all")  # four targets for node_info
FINISHED = ("successful", "failed", "error", "canceled")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    """`python -m api serve` with `workers` job workers; with `split`, serving alone (VMM_API_WORKERS=0)
    beside `python -m api work` running the jobs, as a production install runs them."""

    def __init__(self, workdir, workers, split=False):
        self.port = free_port()
        self.env = {**os.environ, "VMM_API_DATABASE": f"sqlite:///{workdir}/vmm.db",
                    "VMM_API_DATA_DIR": str(workdir / "data"), "VMM_API_WORKERS": str(workers),
                    "VMM_API_SYNC_INTERVAL": "0", "VMM_API_HA_INTERVAL": "0", "VMM_API_MAX_QUEUED_PER_TOKEN": "0"}
        out = subprocess.run([str(BIN / "python"), "-m", "api", "token", "create", "--user", "bench", "--role",
                              "admin"], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True)
        self.token = out.stdout.strip().splitlines()[-1]
        self.log = open(workdir / f"api-{workers}.log", "ab")  # noqa: SIM115 (closed in stop)
        serving = {**self.env, "VMM_API_WORKERS": "0"} if split else self.env
        self.processes = [subprocess.Popen([str(BIN / "python"), "-m", "api", "serve", "--port", str(self.port)],
                                           cwd=ROOT, env=serving, stdout=self.log, stderr=subprocess.STDOUT)]
        if split:
            self.processes.append(subprocess.Popen([str(BIN / "python"), "-m", "api", "work"], cwd=ROOT,
                                                   env=self.env, stdout=self.log, stderr=subprocess.STDOUT))
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.local = threading.local()

    def call(self, method, path, body=None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        assert response.status < 300, (response.status, data[:300])
        return json.loads(data)

    def run(self, limit="localhost"):
        """Wall seconds from POST to seeing the job ended."""
        start = time.perf_counter()
        job = self.call("POST", "/api/v1/jobs", {"operation": "node_info", "limit": limit})
        while job["status"] not in FINISHED:
            time.sleep(0.02)
            job = self.call("GET", f"/api/v1/jobs/{job['id']}")
        assert job["status"] == "successful", job
        return time.perf_counter() - start

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)
        self.log.close()


def runner_direct(workdir, number, limit="localhost"):
    """Wall seconds of `ansible-runner run` of the same playbook, as the API's runner is started."""
    private = workdir / "direct" / str(number)
    (private / "env").mkdir(parents=True)
    (private / "env" / "extravars").write_text("{}")
    env = {"PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    start = time.perf_counter()
    subprocess.run([str(BIN / "ansible-runner"), "run", str(private), "--playbook", PLAYBOOK, "--project-dir",
                    str(ROOT), "--ident", "bench", "--quiet", "--limit", limit], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def overhead(workdir, rounds):
    (workdir / "overhead").mkdir()
    api = Api(workdir / "overhead", workers=2)
    ours, direct = [], []
    try:
        api.run()  # warm-up: imports, first libvirt connection
        for number in range(rounds):
            if number % 2:
                direct.append(runner_direct(workdir, f"o{number}"))
                ours.append(api.run())
            else:
                ours.append(api.run())
                direct.append(runner_direct(workdir, f"o{number}"))
    finally:
        api.stop()
    api_median, direct_median = statistics.median(ours), statistics.median(direct)
    print(f"1. one node_info job, {rounds} rounds (seconds)")
    print(f"   through the API       median {api_median:.3f}  all {' '.join(f'{v:.3f}' for v in ours)}")
    print(f"   ansible-runner run    median {direct_median:.3f}  all {' '.join(f'{v:.3f}' for v in direct)}")
    print(f"   API overhead per job  {api_median - direct_median:+.3f} s  (target < 0.5 s);"
          f" ratio {api_median / direct_median:.2f}")


def throughput(workdir, jobs):
    (workdir / "throughput").mkdir()
    api = Api(workdir / "throughput", workers=2)
    try:
        api.run()
        start = time.perf_counter()
        submitted = [api.call("POST", "/api/v1/jobs", {"operation": "node_info", "limit": LIMITS[n % 4]})["id"]
                     for n in range(jobs)]
        for job_id in submitted:
            while api.call("GET", f"/api/v1/jobs/{job_id}")["status"] not in FINISHED:
                time.sleep(0.05)
        ours = time.perf_counter() - start
    finally:
        api.stop()
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda n: runner_direct(workdir, f"t{n}", LIMITS[n % 4]), range(jobs)))
    direct = time.perf_counter() - start
    print(f"2. {jobs} node_info jobs on 4 targets, 2 at a time")
    print(f"   through the API (2 workers)        {jobs / ours:.2f} jobs/s  ({ours:.2f} s)")
    print(f"   2 parallel ansible-runner runs     {jobs / direct:.2f} jobs/s  ({direct:.2f} s)")
    print(f"   ratio API/direct                   {(jobs / ours) / (jobs / direct):.2f}")


def latency(workdir, samples):
    (workdir / "latency").mkdir()
    api = Api(workdir / "latency", workers=4)
    try:
        api.run()
        idle = []
        for _ in range(samples):
            start = time.perf_counter()
            api.call("GET", "/api/v1/jobs?page_size=50")
            idle.append(time.perf_counter() - start)
        for n in range(32):
            api.call("POST", "/api/v1/jobs", {"operation": "node_info", "limit": LIMITS[n % 4]})
        busy = []
        while len(busy) < samples:
            start = time.perf_counter()
            page = api.call("GET", "/api/v1/jobs?page_size=50")  # every job, with its events' worth of fields
            elapsed = time.perf_counter() - start
            statuses = [job["status"] for job in page["results"]]
            if statuses.count("running") >= 4:
                busy.append(elapsed)
            elif "pending" not in statuses:
                break  # the queue ran dry before enough samples
    finally:
        api.stop()
    print(f"3. GET /api/v1/jobs latency (ms), {len(idle)} idle samples, {len(busy)} with 4 jobs running")
    for name, values in (("idle", idle), ("4 jobs running", busy)):
        if values:
            print(f"   {name:15} p50 {percentile(values, 0.5) * 1000:6.1f}  p99 {percentile(values, 0.99) * 1000:6.1f}"
                  f"  max {max(values) * 1000:6.1f}")
    if idle and busy:
        print(f"   p99 busy/idle {percentile(busy, 0.99) / percentile(idle, 0.99):.2f}  (target: p99 busy < 50 ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmm-bench-api-") as tmp:
        workdir = Path(tmp)
        overhead(workdir, args.rounds)
        throughput(workdir, args.jobs)
        latency(workdir, args.samples)


if __name__ == "__main__":
    main()
