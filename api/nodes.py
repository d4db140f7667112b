"""The nodes of the inventory the API runs its playbooks against, read with `ansible-inventory`.

Cached for a few minutes: the VM directory and the HA watcher ask often, the
inventory changes rarely. A node's libvirt URI comes from `node_uri`, the rule
the inventory plugin uses too.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass

from ansible_collections.vmm.cloud.plugins.module_utils.node_uri import node_uri

from .runner import BIN

NODES_GROUP = "vmm_nodes"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class Node:
    name: str
    host: str
    port: int
    uri: str
    local: bool


def _plain(value):
    """ansible-core 2.19 writes values it does not trust as {"__ansible_unsafe": value}."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def parse_inventory(listing, group=NODES_GROUP):
    """Nodes of `group` from `ansible-inventory --list` output (a dict)."""
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    names, pending, seen = [], [group], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        entry = listing.get(current, {})
        names.extend(entry.get("hosts", []))
        pending.extend(entry.get("children", []))
    nodes = []
    for name in sorted(set(names)):
        variables = {key: _plain(value) for key, value in hostvars.get(name, {}).items()}
        nodes.append(Node(name=name, host=str(variables.get("ansible_host") or name),
                          port=int(variables.get("ansible_port") or 22), uri=node_uri(name, variables),
                          local=variables.get("ansible_connection") == "local"))
    return nodes


class NodeList:
    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._nodes = None
        self._read_at = 0.0

    def nodes(self):
        with self._lock:
            if self._nodes is None or time.monotonic() - self._read_at > CACHE_SECONDS:
                self._nodes = self._read()
                self._read_at = time.monotonic()
            return list(self._nodes)

    def _read(self):
        argv = [str(BIN / "ansible-inventory"), "--list"]
        if self.settings.inventory:
            argv += ["-i", self.settings.inventory]
        env = dict(os.environ, ANSIBLE_CONFIG=str(self.settings.project_dir / "ansible.cfg"),
                   PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.settings.project_dir, env=env,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ansible-inventory failed: {result.stderr.strip()[-500:]}")
        return parse_inventory(json.loads(result.stdout))
