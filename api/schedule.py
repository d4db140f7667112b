"""Work the API does by itself at intervals: a thread per task, stopped with the app.

The scheduled `inventory_sync` keeps the VM directory close to what the nodes
hold even when VMs change outside the API (by hand, from AWX, by HA).
"""

from __future__ import annotations

import logging
import threading

from .operations import OPERATIONS

log = logging.getLogger(__name__)
SCHEDULER = "scheduler"  # launched_by of the jobs it submits


class Periodic:
    """Calls `tick()` every `interval` seconds (the first time at once when `at_start`) in a daemon thread."""

    def __init__(self, name, interval, tick, at_start=False):
        self.name = name
        self.interval = interval
        self.tick = tick
        self.at_start = at_start
        self.stopping = threading.Event()
        self.thread = None

    def start(self):
        if self.interval <= 0:
            return
        self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(10)

    def _loop(self):
        if self.at_start:
            self._tick()
        while not self.stopping.wait(self.interval):
            self._tick()

    def _tick(self):
        try:
            self.tick()
        except Exception:  # the thread must outlive a bad inventory or a database hiccup
            log.exception("%s", self.name)


class SyncSchedule(Periodic):
    """Submits `inventory_sync` every `sync_interval` seconds, unless one is still queued or running."""

    def __init__(self, settings, jobs, store):
        interval = settings.sync_interval if settings.workers > 0 else 0
        super().__init__("vmm-sync-schedule", interval, self.submit_if_idle, at_start=True)
        self.jobs = jobs
        self.store = store

    def submit_if_idle(self):
        operation = OPERATIONS["inventory_sync"]
        if self.store.has_active_job(operation.target({}, None)):
            return None
        return self.jobs.submit(operation, {}, None, SCHEDULER, None)
