"""The lab for the cluster tests: three NAT nodes in cluster `lab`, one routed (`edge`), one bridged (`br`).

Brought up once per session and torn down at the end (`tests/lab/lab down`),
bootstrapped with playbooks/node_bootstrap.yml over SSH like real nodes.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.ansible_run import BIN, ROOT, ansible_env

LAB = ROOT / "tests" / "lab" / "lab"
LAB_DIR = Path("/var/lib/vmm-lab")
# The probe boots a qemu guest on each node; kvm guests hang on this machine (MACHINE-NOTES)
# and the local node's tests already show the probe catching that.
BOOTSTRAP_VARS = {"node_probe_types": ["qemu"], "node_probe_timeout": 60}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def lab(*args, check=True, env=None, timeout=300):
    """tests/lab/lab with args; env (e.g. VMM_LAB_DIR) picks a lab other than the default one."""
    return subprocess.run([str(LAB), *args], capture_output=True, text=True, check=check, timeout=timeout, env=env)


class Lab:
    def __init__(self, inventory, image, lab_dir=LAB_DIR):
        self.inventory = inventory
        self.image = image
        self.lab_dir = lab_dir
        self.state = json.loads((lab_dir / "state.json").read_text())

    def ip(self, node):
        return self.state["nodes"][node]["ip"]

    def uri(self, node):
        return f"qemu+ssh://root@{self.ip(node)}/system?command={self.lab_dir / 'ssh' / 'ssh'}"

    def nodes(self, cluster):
        return sorted(n for n, node in self.state["nodes"].items() if node["cluster"] == cluster)

    def playbook(self, name, extra_vars=None, *args, timeout=600):
        """(rc, recap {host: (ok, changed, unreachable, failed)}, stdout) of a playbook on the lab."""
        argv = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(ROOT / "playbooks" / name), *args]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        env = dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        recap = {m[0]: tuple(int(x) for x in m[1:]) for m in RECAP.findall(proc.stdout)}
        return proc.returncode, recap, proc.stdout + proc.stderr

    def ok(self, name, extra_vars=None, *args):
        rc, recap, out = self.playbook(name, extra_vars, *args)
        assert rc == 0, out[-4000:]
        return recap, out

    def module(self, host, module, args=None, check=False):
        """The result of one module run ad hoc on `host` (a lab node, or localhost)."""
        argv = [str(BIN / "ansible"), "-i", str(self.inventory), host, "-m", module]
        if args:  # an empty "{}" would be taken for raw parameters
            argv += ["-a", json.dumps(args)]
        if check:
            argv.append("--check")
        env = dict(ansible_env(), ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        try:
            report = json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(f"ansible rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}") from exc
        return next(iter(report["plays"][0]["tasks"][0]["hosts"].values()))

    def ssh(self, node, command, stdin=None):
        return subprocess.run(["ssh", "-F", str(self.lab_dir / "ssh" / "config"), self.ip(node), command], input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)

    def console(self, node, vm):
        path = self.lab_dir / "nodes" / node / "root" / "var" / "log" / "vmm" / "console" / f"{vm}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def domains(self, node):
        """{name: state} of the node's libvirtd."""
        proc = self.ssh(node, "virsh list --all --name --state-running; echo ---; virsh list --all --name")
        running_part, _, all_part = proc.stdout.partition("---")
        running = set(running_part.split())
        return {name: ("running" if name in running else "shutoff") for name in all_part.split()}

    def where(self, vm, cluster="lab"):
        return [node for node in self.nodes(cluster) if vm in self.domains(node)]


def uptimes(text):
    return [float(x) for x in re.findall(r"VMM-UPTIME ([0-9.]+)", text)]


def wait_for(predicate, timeout=60, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


ENDED = ("successful", "failed", "error", "canceled")


@contextlib.contextmanager
def running_api(inventory, tmp_path, **settings):
    """The jobs API in this process on a lab inventory (2 workers, no scheduled sync), as a LabApi."""
    from api import create_app
    from api.config import Settings

    settings = {"workers": 2, "poll_interval": 0.2, "ha_interval": 0, "sync_interval": 0, **settings}
    app = create_app(Settings(database=f"sqlite:///{tmp_path / 'api.db'}", data_dir=tmp_path / "data",
                              inventory=str(inventory), **settings))
    try:
        yield LabApi(app)
    finally:
        app.extensions["vmm"].ha.stop()
        app.extensions["vmm"].jobs.stop()
        app.extensions["vmm"].store.dispose()


class LabApi:
    """The jobs API (in this process, real ansible-runner workers) on a lab inventory, as admin."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        store = app.extensions["vmm"].store
        self.headers = {"Authorization": f"Bearer {store.create_token(store.ensure_user('admin', 'admin')['id'])}"}

    def submit(self, operation, variables):
        response = self.client.post("/api/v1/jobs", json={"operation": operation, "vars": variables},
                                    headers=self.headers)
        assert response.status_code == 202, response.get_json()
        return response.get_json()["id"]

    def job(self, job_id):
        return self.client.get(f"/api/v1/jobs/{job_id}", headers=self.headers).get_json()

    def jobs(self, **filters):
        return self.client.get("/api/v1/jobs", query_string=filters, headers=self.headers).get_json()["results"]

    def stdout(self, job_id):
        return self.client.get(f"/api/v1/jobs/{job_id}/stdout", headers=self.headers).get_data(as_text=True)

    def wait(self, job_id, timeout=300):
        """The job once it has ended, whatever its status."""
        return wait_for(lambda: (j := self.job(job_id))["status"] in ENDED and j, timeout=timeout,
                        interval=0.3, what=f"job {job_id}")

    def ok(self, job_id, timeout=300):
        """The job once it has ended, which must be successfully."""
        job = self.wait(job_id, timeout)
        assert job["status"] == "successful", (job, self.stdout(job_id)[-3000:])
        return job

    def vm_records(self, name, kind):
        """The VM's snapshots or backups as the API's directory has them."""
        response = self.client.get(f"/api/v1/vms/{name}/{kind}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    def vm(self, name):
        """The VM as the API's directory has it."""
        response = self.client.get(f"/api/v1/vms/{name}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture(scope="session")
def lab_up():
    lab("down", check=False)
    out = lab("up", "--nodes", "3", "--cluster", "edge:routed:1", "--cluster", "br:bridge:1").stdout
    inventory = Path(out.strip().splitlines()[-1])
    image = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True,
                           check=True).stdout.strip().splitlines()[-1]
    yield Lab(inventory, image)
    lab("down")
    # Without a trace: no namespace, link, directory or process of the lab is left.
    assert "vmmlab-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "vmmlab" not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert not LAB_DIR.exists()
    assert "vmm-lab" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def cluster(lab_up):
    """The lab bootstrapped once, with the demo image registered in the shared image store."""
    recap, _ = lab_up.ok("node_bootstrap.yml", dict(BOOTSTRAP_VARS, node_probe_image=lab_up.image))
    lab_up.first_bootstrap = recap
    registered = lab_up.module("node1", "vmm.cloud.image", {"name": "tiny", "src": lab_up.image})
    assert not registered.get("failed"), registered
    return lab_up
