"""The job service: submits jobs, runs them through ansible-runner, cancels, relaunches, recovers.

Workers (threads of this process, `Settings.workers` of them) claim jobs from
the store: the oldest pending job whose target has nothing unfinished ahead of
it. So jobs on one VM or node run one at a time in submission order, others in
parallel up to the worker count, across every API process sharing the database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from .errors import ApiError
from .operations import OPERATIONS
from .runner import AdoptedProcess, RunnerJob, find_runner, runner_alive
from .secretbox import SecretBox, SecretError
from .store import QueueFull, utcnow

log = logging.getLogger(__name__)

RUNNER_STATUS = {"successful": "successful", "failed": "failed", "canceled": "canceled", "timeout": "failed"}
RECOVERY_INTERVAL = 10.0  # seconds between looks for jobs whose API process died
QUEUE_FULL_RETRY_AFTER = 30  # seconds a client over its cap of queued jobs is told to wait


def _process_start_time(pid):
    """The kernel's start time of `pid` (clock ticks since boot): tells a live process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def controller_id():
    """host:pid:start-time:instance of this job service (a process may hold several, as tests do)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start_time(os.getpid())}:{uuid.uuid4().hex[:8]}"


def controller_alive(controller):
    host, pid, started, _ = ((controller or "") + ":::").split(":")[:4]
    if host != socket.gethostname():
        return True  # another machine's process: not ours to judge
    return pid.isdigit() and _process_start_time(int(pid)) == started


class JobService:
    def __init__(self, settings, store, directory, notifier=None):
        self.settings = settings
        self.store = store
        self.directory = directory
        self.notifier = notifier
        self.secrets = SecretBox.from_settings(settings)
        self.controller = controller_id()
        self.work_available = threading.Event()
        self.stopping = threading.Event()
        self.threads = []
        self.last_recovery = 0.0

    # lifecycle

    def start(self):
        if self.settings.workers <= 0:
            return
        self.recover()
        for number in range(self.settings.workers):
            thread = threading.Thread(target=self._worker, name=f"vmm-job-worker-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout=30):
        """Stop claiming jobs; running ones go on in their own processes (a restart adopts them)."""
        self.stopping.set()
        self.work_available.set()
        for thread in self.threads:
            thread.join(timeout)

    # requests

    def submit(self, operation, variables, limit, launched_by, owner, relaunch_of=None, token=None):
        """Queue a job; `token` ({"id", "max_queued"}) is the submitter's, whose cap of queued jobs applies."""
        token_id, cap = self._queue_cap(token)
        try:
            job = self.store.insert_job(
                operation=operation.name, status="pending", vars=self.secrets.seal(variables), limit=limit,
                target=operation.target(variables, limit), owner=owner, launched_by=launched_by,
                timeout=operation.timeout, relaunch_of=relaunch_of, ident=uuid.uuid4().hex, token_id=token_id,
                max_queued=cap)
        except QueueFull as full:
            raise ApiError(429, f"This token has {full.cap} jobs queued (pending or waiting), its cap: wait for "
                                "some to start (an admin may give a token a higher max_queued).",
                           headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)}) from None
        self.work_available.set()
        return job

    def _queue_cap(self, token):
        if token is None:
            return None, None
        cap = token["max_queued"] or self.settings.max_queued_per_token
        return token["id"], cap or None

    def cancel(self, job_id):
        """True if the job was canceled or will be; False if it had already ended."""
        return self.store.cancel_pending(job_id) or self.store.request_cancel(job_id)

    # workers

    def _worker(self):
        while not self.stopping.is_set():
            self.work_available.clear()
            try:
                if time.monotonic() - self.last_recovery > RECOVERY_INTERVAL:
                    self.recover()
                job = self.store.claim_next(self.controller)
            except Exception:  # a database hiccup must not kill the worker
                log.exception("claiming a job failed")
                self.stopping.wait(self.settings.poll_interval)
                job = None
            if job is None:
                self.work_available.wait(self.settings.poll_interval)
                continue
            try:
                self._run(job)
            except Exception as exc:
                log.exception("job %s", job["id"])
                self.store.finish_job(job["id"], "error", job_explanation=f"The API failed to run the job: {exc}")
            self.work_available.set()  # a job on the same target may be next

    def _run(self, job):
        operation = OPERATIONS[job["operation"]]
        runner = RunnerJob(self.settings, job)
        try:
            variables = self.secrets.open(job["vars"])  # decrypted only into the runner's private extravars
        except SecretError as exc:
            self.store.finish_job(job["id"], "error", job_explanation=str(exc))
            return
        try:
            runner.prepare(operation.extravars(variables), vm_source=operation.vm_source)
            handle = runner.spawn(operation.playbook, job["limit"])
        except (OSError, ValueError) as exc:
            self.store.finish_job(job["id"], "error", job_explanation=f"Could not start ansible-runner: {exc}")
            return
        self.store.update_job(job["id"], status="running", started=utcnow(), runner_pid=handle.pid)
        self._watch(self.store.get_job(job["id"]), runner, handle)

    def _watch(self, job, runner, handle):
        deadline = job["started"] + timedelta(seconds=job["timeout"])
        stopped_because = None
        while not handle.wait(self.settings.poll_interval):
            if self.stopping.is_set():
                return  # the runner goes on; whichever API process starts next adopts the job
            self.store.add_events(job["id"], runner.new_events())
            if utcnow() > deadline:
                stopped_because = "timeout"
            elif self.store.get_job(job["id"])["cancel_requested"]:
                stopped_because = "canceled"
            if stopped_because:
                handle.stop()
                break
        self.store.add_events(job["id"], runner.new_events())
        self._finish(job, runner, stopped_because)

    def _finish(self, job, runner, stopped_because=None):
        runner.forget_secrets()
        outcome = runner.outcome()
        rc = outcome[1] if outcome else None
        fields = {"rc": rc, "failed_task": runner.failed_task(), "artifacts": runner.artifact_data}
        if stopped_because == "timeout":
            status, explanation = "failed", f"Job terminated due to timeout ({job['timeout']} s)."
        elif stopped_because == "canceled":
            status, explanation = "canceled", "Canceled on request."
        elif outcome is None:
            status, explanation = "error", f"ansible-runner ended without a result: {runner.log_tail()}"
        else:
            status = RUNNER_STATUS.get(outcome[0], "error")
            explanation = self._explain(status, outcome, fields["failed_task"], runner)
        # the directory first: whoever sees the job ended finds what it did there (recording twice, should
        # another process finish the same job, writes the same rows)
        try:
            self.directory.record_job(job, status, fields["artifacts"])
        except Exception:  # the job's own record stands; the next inventory_sync mends the directory
            log.exception("job %s: recording its VMs in the directory failed", job["id"])
        self.store.finish_job(job["id"], status, job_explanation=explanation, **fields)
        if self.notifier is not None:
            self.notifier.job_ended(job, status)

    @staticmethod
    def _explain(status, outcome, failed_task, runner):
        if status == "successful":
            return ""
        if failed_task:
            return f"Task '{failed_task['task']}' failed on {failed_task['host']}: {failed_task['msg']}"
        if status == "failed":
            return f"The playbook failed (rc {outcome[1]}): {runner.log_tail(1000)}"
        return f"ansible-runner reported {outcome[0]} (rc {outcome[1]})."

    # recovery

    def recover(self):
        """Jobs whose API process is gone: adopt a runner still alive, record one that ended, or mark the job."""
        self.last_recovery = time.monotonic()
        for job in self.store.jobs_in_flight():
            if controller_alive(job["controller"]):
                continue
            if not self.store.adopt_job(job["id"], job["controller"], self.controller):
                continue
            runner = RunnerJob(self.settings, job)
            # all events again: the stored ones are ignored, and the runner learns the failure and stats
            self.store.add_events(job["id"], runner.new_events())
            # a job still `waiting` may have had its runner started just before its API process died
            pid = job["runner_pid"] or find_runner(job["ident"])
            if pid and runner_alive(pid, job["ident"]):
                log.info("job %s: adopting its runner (pid %s)", job["id"], pid)
                if job["status"] != "running":
                    self.store.update_job(job["id"], status="running", started=job["started"] or utcnow(),
                                          runner_pid=pid)
                    job = self.store.get_job(job["id"])
                handle = AdoptedProcess(pid)
                threading.Thread(target=self._watch, args=(job, runner, handle), daemon=True,
                                 name=f"vmm-job-adopted-{job['id']}").start()
            elif runner.outcome() is not None:
                self._finish(job, runner)
            else:
                self.store.finish_job(job["id"], "error", job_explanation=(
                    "The API process running this job stopped before the job ended, and its ansible-runner "
                    "is gone: the job was interrupted. Relaunch it to run it again."))
