"""The nodes of the inventory the API runs its playbooks against, read with `ansible-inventory`.

Cached for a few minutes: the HA watcher and the IP pools' report ask often, the
inventory changes rarely. A node's libvirt URI comes from `node_uri`, the rule
the inventory plugin uses too. A node's variables are what `ansible-inventory
--list` gives: host and group variables merged (group_vars/ and host_vars/
files too), as written: nothing is rendered as a template.
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
    """ansible-core 2.19 writes values it does not trust as {"__ansible_unsafe": value}, at any depth."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return _plain(value["__ansible_unsafe"])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def node_variables(listing, group=NODES_GROUP):
    """{node: its variables} of the hosts of `group` (and of its children) in `ansible-inventory --list`
    output (a dict), by name."""
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
    return {name: _plain(hostvars.get(name, {})) for name in sorted(set(names))}


def parse_inventory(listing, group=NODES_GROUP):
    """Nodes of `group` from `ansible-inventory --list` output (a dict)."""
    return [Node(name=name, host=str(variables.get("ansible_host") or name),
                 port=int(variables.get("ansible_port") or 22), uri=node_uri(name, variables),
                 local=variables.get("ansible_connection") == "local")
            for name, variables in node_variables(listing, group).items()]


class NodeList:
    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._listing = None
        self._read_at = 0.0

    def _cached(self):
        with self._lock:
            if self._listing is None or time.monotonic() - self._read_at > CACHE_SECONDS:
                self._listing = self._read()
                self._read_at = time.monotonic()
            return self._listing

    def nodes(self):
        return parse_inventory(self._cached())

    def variables(self):
        """{node: its variables}; RuntimeError when ansible-inventory fails."""
        return node_variables(self._cached())

    def _read(self):
        argv = [str(BIN / "ansible-inventory"), "--list"]
        if self.settings.inventory:
            argv += ["-i", self.settings.inventory]
        # an inventory that does not parse fails the read (ansible-inventory would list no nodes and say rc 0)
        env = dict(os.environ, ANSIBLE_CONFIG=str(self.settings.project_dir / "ansible.cfg"),
                   ANSIBLE_INVENTORY_UNPARSED_FAILED="true", PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.settings.project_dir, env=env,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ansible-inventory failed: {result.stderr.strip()[-500:]}")
        return json.loads(result.stdout)
