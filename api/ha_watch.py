"""The HA watcher: notices a node that stops answering and runs `cluster_heal` as a job.

Every `ha_interval` seconds it opens a TCP connection to the SSH port of each
node of the inventory (local nodes excepted). A node silent on two looks in a
row is suspect; whenever the set of suspects changes (a node went silent, or
came back and may hold stale copies) a `cluster_heal` job is submitted,
launched by `ha-watcher`. The job itself confirms the death, restarts the HA
VMs elsewhere and says so in its output and artifacts. Only one API process
of an installation needs to watch (VMM_API_HA_INTERVAL=0 on the others).
"""

from __future__ import annotations

import logging
import socket

from .operations import OPERATIONS
from .schedule import Periodic

log = logging.getLogger(__name__)
LOOKS_BEFORE_SUSPECT = 2
CONNECT_TIMEOUT = 3.0
LAUNCHED_BY = "ha-watcher"


def answers(host, port, timeout=CONNECT_TIMEOUT):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class HaWatcher(Periodic):
    def __init__(self, settings, jobs, node_list, probe=answers):
        super().__init__("vmm-ha-watcher", settings.ha_interval if settings.workers > 0 else 0, self.look)
        self.jobs = jobs
        self.node_list = node_list
        self.probe = probe
        self.silent_looks = {}
        self.reported = frozenset()

    def look(self):
        """One round; returns the job it submitted, if any."""
        for node in self.node_list.nodes():
            if node.local:
                continue
            if self.probe(node.host, node.port):
                self.silent_looks.pop(node.name, None)
            else:
                self.silent_looks[node.name] = self.silent_looks.get(node.name, 0) + 1
        suspects = frozenset(name for name, looks in self.silent_looks.items() if looks >= LOOKS_BEFORE_SUSPECT)
        if suspects == self.reported:
            return None
        self.reported = suspects
        log.warning("HA watcher: silent nodes now %s; submitting cluster_heal", ", ".join(sorted(suspects)) or "none")
        return self.jobs.submit(OPERATIONS["cluster_heal"], {}, None, LAUNCHED_BY, None)
