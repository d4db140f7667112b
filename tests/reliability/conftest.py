"""Fixtures of the reliability suite: a two-node lab whose libvirtds can be held at one step of one domain,
the jobs API on it, API servers that run trace jobs, and the check every test ends with: nothing lost,
nothing doubled, nothing half-made, as libvirt and the disks of the nodes see it.

A hold is how a test breaks something at the right moment without timing luck: libvirtd runs its qemu
hook (`/etc/libvirt/hooks/qemu`, installed on every lab node before its libvirtd starts) synchronously at
each step of a domain's life (prepare, start, migrate, stopped, ...). The hook waits while the file
`holds/<domain>.<operation>.<sub-operation>` exists and libvirtd lives, after leaving `<...>.reached`
with the node's name in it. So a test knows the job is inside that step, on which node, breaks it, then
releases the hold.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path

import pytest

from tests.jobs_api.conftest import ApiServer, postgres_url, sqlite_url  # noqa: F401 - fixtures used here
from tests.lab.conftest import BOOTSTRAP_VARS, LAB_DIR, Lab, lab, running_api, wait_for

HOLDS = LAB_DIR / "holds"
FINISHED = ("successful", "failed", "error", "canceled")
QEMU_HOOK = f"""#!/bin/sh
# vmm reliability tests (tests/reliability/conftest.py): hold libvirtd at one step of one domain.
hold="{HOLDS}/$1.$2.$3"
[ -e "$hold" ] || exit 0
hostname > "$hold.reached"
while [ -e "$hold" ] && kill -0 "$PPID" 2>/dev/null; do sleep 0.05; done
exit 0
"""
# Disks and seeds. Console logs are not checked: a live migration leaves the VM's log on the node it left
# (QEMU's file, outside any pool, which nothing removes; noted in the README).
VM_DIRS = ("var/lib/vmm/disks",)


class Hold:
    """Keep libvirtd inside `operation`/`sub` of `domain` (on whichever lab node runs it) until released."""

    def __init__(self, domain, operation, sub="begin"):
        self.path = HOLDS / f"{domain}.{operation}.{sub}"
        self.reached = Path(f"{self.path}.reached")

    def __enter__(self):
        HOLDS.mkdir(exist_ok=True)
        self.reached.unlink(missing_ok=True)
        self.path.touch()
        return self

    def node(self, timeout=300):
        """The node whose libvirtd is held (waiting until one is)."""
        def written():  # the hook makes the file, then writes its node's name into it
            return self.reached.exists() and self.reached.read_text().strip()

        return wait_for(written, timeout=timeout, interval=0.1, what=f"libvirtd to reach {self.path.name}")

    def release(self):
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc):
        self.release()
        self.reached.unlink(missing_ok=True)


class ReliabilityLab(Lab):
    def volumes(self, node, pool="vmm"):
        """Names of the volumes libvirtd lists in `pool` (its own view, not refreshed by the test)."""
        proc = self.ssh(node, f"virsh -q vol-list {pool}")
        assert proc.returncode == 0, proc.stderr
        return sorted(line.split()[0] for line in proc.stdout.splitlines() if line.strip())

    def files(self, node, prefix):
        """VM files of the node (disks and seeds) whose names start with `prefix`."""
        root = LAB_DIR / "nodes" / node / "root"
        return sorted(p.name for d in VM_DIRS for p in (root / d).glob(f"{prefix}*"))

    def picture(self, prefix):
        """{node: {"domains": {name: state}, "files": [...], "volumes": [...]}} for names starting with prefix."""
        return {node: {"domains": {n: s for n, s in self.domains(node).items() if n.startswith(prefix)},
                       "files": self.files(node, prefix),
                       "volumes": [v for v in self.volumes(node) if v.startswith(prefix)]}
                for node in self.nodes("lab")}

    def assert_whole(self, name, node, state=None):
        """The VM is defined on `node` alone, with its disk and seed as files and as volumes of the pool."""
        picture = self.picture(name)
        disks = [f"{name}-seed.iso", f"{name}.qcow2"]
        assert list(picture[node]["domains"]) == [name], picture
        if state:
            assert picture[node]["domains"][name] == state, picture
        assert picture[node]["files"] == disks, picture
        assert picture[node]["volumes"] == disks, picture
        for other in set(picture) - {node}:
            assert picture[other] == {"domains": {}, "files": [], "volumes": []}, picture

    def assert_gone(self, name):
        picture = self.picture(name)
        assert all(p == {"domains": {}, "files": [], "volumes": []} for p in picture.values()), picture


@pytest.fixture(scope="session")
def lab_nodes():
    """Two NAT nodes of cluster `lab`, bootstrapped, with the qemu hook and the demo image as `tiny`."""
    lab("down", check=False)
    inventory = Path(lab("up", "--nodes", "2").stdout.strip().splitlines()[-1])
    state = json.loads((LAB_DIR / "state.json").read_text())
    for node in state["nodes"]:
        hook = LAB_DIR / "nodes" / node / "root" / "etc" / "libvirt" / "hooks" / "qemu"
        hook.parent.mkdir(mode=0o755, exist_ok=True)  # a node's /etc/libvirt copies the host's, which may have none
        hook.write_text(QEMU_HOOK)  # before the bootstrap starts the node's libvirtd, which looks for it then
        hook.chmod(0o755)
    image = subprocess.run([str(Path(__file__).parents[2] / "scripts" / "build-demo-image")], capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]
    nodes = ReliabilityLab(inventory, image)
    nodes.ok("node_bootstrap.yml", dict(BOOTSTRAP_VARS, node_probe_image=image))
    registered = nodes.module("node1", "vmm.cloud.image", {"name": "tiny", "src": image})
    assert not registered.get("failed"), registered
    yield nodes
    lab("down")


@pytest.fixture
def lab_api(lab_nodes, tmp_path):
    with running_api(lab_nodes.inventory, tmp_path) as api:
        yield api


class TraceServer(ApiServer):
    """A real API server process that also runs `test_sleep`, the job that leaves a trace file per run."""

    module = "tests.reliability.serve"


@pytest.fixture
def trace_servers(tmp_path):
    started = []

    def make(database, workers=2, **settings):
        server = TraceServer(database, tmp_path / "data", workers=workers, **settings)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


class Http:
    """One HTTP connection of its own to an API server, as one client."""

    def __init__(self, server, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def submit(self, operation, variables):
        status, job = self.call("POST", "/api/v1/jobs", {"operation": operation, "vars": variables})
        assert status == 202, job
        return job

    def all_jobs(self, **filters):
        jobs, page = [], 1
        while True:
            query = "&".join([f"page_size=200&page={page}"] + [f"{k}={v}" for k, v in filters.items()])
            status, body = self.call("GET", f"/api/v1/jobs?{query}")
            assert status == 200, body
            jobs += body["results"]
            if not body["next"]:
                return jobs
            page += 1

    def wait_all_ended(self, count, timeout=900):
        def ended():
            jobs = self.all_jobs()
            return len(jobs) == count and all(j["status"] in FINISHED for j in jobs) and jobs
        return wait_for(ended, timeout=timeout, interval=1.0, what=f"{count} jobs to end")

    def close(self):
        self.conn.close()


def traces(trace_dir):
    """{marker: [mtime_ns of each run's trace file]} (test_sleep names its trace `<marker>.<random>`)."""
    found = {}
    for path in Path(trace_dir).iterdir():
        found.setdefault(path.name.split(".", 1)[0], []).append(path.stat().st_mtime_ns)
    return found
