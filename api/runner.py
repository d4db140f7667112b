"""One job's ansible-runner process: its private data directory, its command line, its events.

Every job gets its own private data directory and ident, and its own
`ansible-runner run` process in a session of its own (so it outlives a restart
of the API, which can then adopt it). Variables go to `env/extravars` as JSON:
no user text is ever put on a command line. The artifact directory is the
source of truth; events are read from its `job_events/` as they appear.
Every string of the extra variables is marked `!unsafe` (api/inert.py): Ansible
never renders client data as a template.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from .inert import inert_yaml
from .private import UMASK

BIN = Path(sys.executable).parent
FAILED_EVENTS = ("runner_on_failed", "runner_on_unreachable")
STOP_GRACE = 10  # seconds between SIGTERM (ansible-runner cancels the playbook) and SIGKILL


def _private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def lower_priority(pid, niceness):
    """The niceness of `pid`'s scheduler autogroup (its session's): a new session is a group of its own,
    whose weight ignores its processes' nice values."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))


class RunnerJob:
    def __init__(self, settings, job):
        self.settings = settings
        self.job_id = job["id"]
        self.ident = job["ident"]
        self.dir = Path(settings.data_dir) / "jobs" / str(job["id"])
        self.artifacts = self.dir / "artifacts" / self.ident
        self.log_path = self.dir / "runner.log"
        self.seen = set()
        self.failure = None  # the last failed task's event data
        self.artifact_data = None

    @property
    def vm_source(self):
        """The job's vmm.cloud.libvirt inventory source (the name must end in vmm.yml)."""
        return self.dir / "vms.vmm.yml"

    def prepare(self, extravars, vm_source=False):
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "env").mkdir(parents=True, mode=0o700)
        # strings tagged !unsafe: ansible-runner hands this file to ansible-playbook as `-e @FILE`
        _private(self.dir / "env" / "extravars", inert_yaml(extravars))
        if vm_source:
            _private(self.vm_source, json.dumps({"plugin": "vmm.cloud.libvirt", "report_var": "vmm_directory",
                                                 "node_inventory": self.settings.nodes_inventory()}))

    def argv(self, playbook, limit):
        argv = [str(BIN / "ansible-runner"), "run", str(self.dir), "--playbook", playbook,
                "--project-dir", str(self.settings.project_dir), "--ident", self.ident, "--quiet"]
        if self.vm_source.exists():  # both sources named: a -i on the command line hides ansible.cfg's
            argv += ["--inventory", self.settings.nodes_inventory(),
                     f"--cmdline=-i {shlex.quote(str(self.vm_source))}"]  # one word: argparse takes "-i" for an option
        elif self.settings.inventory:
            argv += ["--inventory", self.settings.inventory]
        if limit:
            argv += ["--limit", limit]
        return argv

    def environment(self):
        """Only what the playbook needs: the API's own settings (a database password) stay out of it."""
        return {"PATH": f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
                "ANSIBLE_CONFIG": str(Path(self.settings.project_dir) / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}

    def spawn(self, playbook, limit):
        argv = self.argv(playbook, limit)
        if self.settings.job_nice:  # `nice` execs the runner: the same pid, its cmdline the runner's
            argv = ["nice", "-n", str(self.settings.job_nice), *argv]
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(argv, cwd=self.settings.project_dir,
                                       env=self.environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, umask=UMASK)
        if self.settings.job_nice:
            lower_priority(process.pid, self.settings.job_nice)
        return ChildProcess(process)

    def forget_secrets(self):
        """The variables stay in the database (for relaunch); the copy on disk goes once the run ended."""
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "env" / "extravars").unlink()

    # events

    def new_events(self):
        """Events written since the last call, as rows for the store (half-written files wait for the next)."""
        events_dir = self.artifacts / "job_events"
        try:
            names = os.listdir(events_dir)
        except FileNotFoundError:
            return []
        rows = []
        for name in names:
            if name in self.seen or not name.endswith(".json") or name.endswith("-partial.json"):
                continue
            try:
                event = json.loads((events_dir / name).read_text())
            except (OSError, ValueError):
                continue
            self.seen.add(name)
            rows.append(self._row(event))
        return sorted(rows, key=lambda row: row["counter"])

    def _row(self, event):
        data = event.get("event_data") or {}
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        failed = event["event"] in FAILED_EVENTS and not data.get("ignore_errors")
        if failed:
            self.failure = data
        if event["event"] == "playbook_on_stats":
            self.artifact_data = data.get("artifact_data") or {}
        created = event.get("created")
        return {"counter": event["counter"], "event": event["event"], "uuid": event.get("uuid"),
                "created": datetime.fromisoformat(created).replace(tzinfo=None) if created else None,
                "host": data.get("host"), "task": data.get("task"), "failed": failed,
                "changed": bool(res.get("changed")), "stdout": (event.get("stdout") or "").replace("\r\n", "\n"),
                "event_data": data}

    def failed_task(self):
        if not self.failure:
            return None
        res = self.failure.get("res") or {}
        return {"task": self.failure.get("task"), "host": self.failure.get("host"),
                "action": self.failure.get("task_action"), "msg": str(res.get("msg") or "")[:4000],
                "field": res.get("field")}

    # outcome

    def outcome(self):
        """(status, rc) as ansible-runner recorded them, or None while it has not."""
        try:
            status = (self.artifacts / "status").read_text().strip()
        except FileNotFoundError:
            return None
        try:
            rc = int((self.artifacts / "rc").read_text().strip())
        except (FileNotFoundError, ValueError):
            rc = None
        return status, rc

    def log_tail(self, limit=2000):
        text = ""
        for path in (self.log_path, self.artifacts / "stdout", self.artifacts / "stderr"):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return text.strip()[-limit:]


class ChildProcess:
    """An ansible-runner process this API process started."""

    def __init__(self, process):
        self.process = process
        self.pid = process.pid

    def wait(self, timeout):
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self):
        _stop_group(self.pid, self.wait)


class AdoptedProcess:
    """An ansible-runner process started by an API process that has since stopped."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = os.pidfd_open(pid)

    def wait(self, timeout):
        if self.fd is None:
            return True
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        if poller.poll(timeout * 1000):
            os.close(self.fd)
            self.fd = None
            return True
        return False

    def stop(self):
        _stop_group(self.pid, self.wait)


def _stop_group(pid, wait):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        if not wait(STOP_GRACE):
            os.killpg(pid, signal.SIGKILL)
            wait(STOP_GRACE)


def runner_alive(pid, ident):
    """Is `pid` still the ansible-runner of the job `ident`?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return ident.encode() in cmdline


def find_runner(ident):
    """The pid of the live ansible-runner of the job `ident` (the leader of its own session), if any."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getsid(pid) == pid and runner_alive(pid, ident):
                return pid
    return None
