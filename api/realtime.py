"""Requests before jobs: the threads of `serve` that handle requests run in the kernel's round-robin
real-time class, which any runnable thread of the normal class (the jobs' playbooks, forking on every
task) waits behind, so a request is never queued behind them for a time slice. Their children, threads
and processes alike, start back in the normal class (SCHED_RESET_ON_FORK): the runners a request or a
job worker starts are not real-time, and stay at VMM_API_JOB_NICE.

Linux only, and the kernel allows it to root (CAP_SYS_NICE) or within RLIMIT_RTPRIO; elsewhere requests
are scheduled as before, with a warning. The kernel's real-time throttling (sched_rt_runtime_us, 95% of
each second by default) still leaves the rest of the machine its share if a request spins."""

from __future__ import annotations

import logging
import os
import threading

LOG = logging.getLogger(__name__)


def make_realtime(priority):
    """The calling thread in SCHED_RR at `priority`, its children in the normal class. False if refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except (AttributeError, OSError) as exc:  # not Linux; no CAP_SYS_NICE or RLIMIT_RTPRIO
        LOG.warning("VMM_API_SERVE_RT_PRIORITY=%d: real-time scheduling refused (%s); requests are scheduled "
                    "as normal threads", priority, exc)
        return False
    return True


class RealtimeRequests:
    """WSGI middleware: a thread serving its first request becomes real-time (the server's worker threads
    are made by a thread whose children start normal)."""

    def __init__(self, app, priority):
        self.app = app
        self.priority = priority
        self.local = threading.local()

    def __call__(self, environ, start_response):
        if not getattr(self.local, "done", False):
            self.local.done = True
            make_realtime(self.priority)
        return self.app(environ, start_response)
