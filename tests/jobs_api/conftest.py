"""Fixtures of the API tests: the app on a fresh SQLite or PostgreSQL database, real
ansible-runner workers, tokens, and API servers as real processes.

PostgreSQL comes from VMM_TEST_POSTGRES (scripts/test installs, starts and sets it);
each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import libvirt
import pytest
import sqlalchemy as sa

from api import create_app
from api.config import ROOT, Settings
from api.operations import OPERATIONS, Operation
from api.schemas import NAME, SECRET_PATHS

PG_URL = os.environ.get("VMM_TEST_POSTGRES", "postgresql+psycopg://vmm_test:vmm_test@127.0.0.1:5432/postgres")
FINISHED = ("successful", "failed", "error", "canceled")

TEST_SLEEP = Operation(
    name="test_sleep", kind="vm", playbook="tests/jobs_api/playbooks/sleep.yml", timeout=120,
    description="tests only: sleep, leave a trace (with the secret in it, if any), fail on request",
    schema={"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
        "name": NAME, "seconds": {"type": "integer", "minimum": 0, "maximum": 600}, "marker": NAME,
        "trace_dir": {"type": "string", "pattern": r"^/[A-Za-z0-9/_.-]+$"}, "fail": {"type": "boolean"},
        "secret": {"type": "string", "pattern": r"^[^\r\n\x00]*$", "maxLength": 256}}})


@pytest.fixture
def test_operations(monkeypatch):
    """Adds test_sleep to the allowlist, for this test only."""
    monkeypatch.setitem(OPERATIONS, "test_sleep", TEST_SLEEP)


@pytest.fixture
def secret_test_var():
    """test_sleep's `secret` is a secret option (as cloud_init.password is), for this test only."""
    SECRET_PATHS.add("secret")
    yield "secret"
    SECRET_PATHS.discard("secret")


@pytest.fixture
def postgres_url():
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"vmm_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vmm.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'vmm.db'}"


@pytest.fixture
def make_app(tmp_path):
    apps = []

    def make(database, workers=2, **overrides):
        overrides.setdefault("ha_interval", 0)
        overrides.setdefault("sync_interval", 0)
        overrides.setdefault("backup_interval", 0)
        overrides.setdefault("webhook_interval", 0)  # nothing is sent unless a test asks
        overrides.setdefault("data_dir", tmp_path / f"data{len(apps)}")
        settings = Settings(database=database, workers=workers, poll_interval=0.2, **overrides)
        app = create_app(settings)
        app.testing = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["vmm"].jobs.stop()
        app.extensions["vmm"].store.dispose()


def make_token(app, user, role):
    store = app.extensions["vmm"].store
    return store.create_token(store.ensure_user(user, role)["id"])


class Client:
    """A test client speaking as one user."""

    def __init__(self, app, token):
        self.http = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, **kwargs):
        return self.http.get(path, headers=self.headers, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.http.post(path, headers=self.headers, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.http.delete(path, headers=self.headers, **kwargs)

    def submit(self, operation, variables=None, limit=None, expect=202):
        body = {"operation": operation, "vars": variables or {}}
        if limit:
            body["limit"] = limit
        response = self.post("/api/v1/jobs", body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def job(self, job_id):
        response = self.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def wait(self, job_id, timeout=120, until=FINISHED):
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in until:
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
            time.sleep(0.1)


@pytest.fixture
def clients(database, make_app):
    """(app, admin, alice, bob) on the parametrized database with 2 workers."""
    app = make_app(database)
    return (app, Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user")),
            Client(app, make_token(app, "bob", "user")))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    """`python -m api serve` as a real process."""

    module = "api"  # what `python -m` runs: the API, or a test's wrapper of it

    def __init__(self, database, data_dir, workers=2, log_path=None, **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "VMM_API_DATABASE": database, "VMM_API_DATA_DIR": str(data_dir),
                    "VMM_API_WORKERS": str(workers), "VMM_API_POLL_INTERVAL": "0.2", "VMM_API_HA_INTERVAL": "0",
                    "VMM_API_SYNC_INTERVAL": "0", "VMM_API_BACKUP_INTERVAL": "0", "VMM_API_WEBHOOK_INTERVAL": "0",
                    **{f"VMM_API_{name.upper()}": str(value) for name, value in settings.items()}}
        self.log_path = log_path or (data_dir.parent / f"api-{self.port}.log")
        self.process = None
        self.job_services = []  # `python -m api work` processes beside this server

    def token(self, user, role, *options):
        return self.cli("token", "create", "--user", user, "--role", role, *options).stdout.strip().splitlines()[-1]

    def cli(self, *argv, check=True):
        """`python -m api ARGV...` with this server's settings."""
        return subprocess.run([sys.executable, "-m", self.module, *argv], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, check=check)

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1",
                                             "--port", str(self.port)], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"API on port {self.port} did not come up: {self.log_path.read_text()}")

    def start_job_service(self, workers=2):
        """`python -m api work` on this server's database: runs the jobs this server (workers=0) queues."""
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", self.module, "work"], cwd=ROOT,
                                       env={**self.env, "VMM_API_WORKERS": str(workers)}, stdout=log,
                                       stderr=subprocess.STDOUT)
        self.job_services.append(process)
        return process

    def kill(self, sig=signal.SIGKILL):
        for process in [self.process, *self.job_services]:
            if process and process.poll() is None:
                process.send_signal(sig)
                process.wait(30)


@pytest.fixture
def servers(tmp_path):
    started = []

    def make(database, workers=2, data_dir=None, **settings):
        server = ApiServer(database, data_dir or tmp_path / "data", workers=workers, **settings)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill(signal.SIGTERM)


def remove_vm_now(name):
    """Destroy and undefine VM `name` on this machine with its disks and console log, if it exists."""
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    except libvirt.libvirtError:
        pass  # not there
    finally:
        conn.close()
    for directory in (Path("/var/lib/vmm/disks"), Path("/var/log/vmm/console")):
        for path in directory.glob(f"{name}*"):
            path.unlink()


class VmCleanup:
    """VMs a test makes: `add(name)` removes a leftover of an earlier run now, and the VM at the end."""

    def __init__(self):
        self.names = set()

    def add(self, name):
        if name not in self.names:
            self.names.add(name)
            remove_vm_now(name)


@pytest.fixture
def remove_vm():
    cleanup = VmCleanup()
    yield cleanup
    for name in cleanup.names:
        remove_vm_now(name)


@pytest.fixture
def tiny_image():
    """The demo image registered in the local node's store as `it-tiny`."""
    from integration.ansible_run import run_task  # pytest's path; tests/reliability/serve.py imports this file

    out = subprocess.run([str(ROOT / "scripts" / "build-demo-image")], capture_output=True, text=True, check=True)
    result = run_task("vmm.cloud.image", {"name": "it-tiny", "src": out.stdout.strip().splitlines()[-1]})
    assert not result.get("failed"), result
    return "it-tiny"
