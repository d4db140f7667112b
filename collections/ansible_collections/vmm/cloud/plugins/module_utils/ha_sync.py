# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vm module's side of HA records (ha.py): a VM's record kept as the VM is after every run, and the removal
of a stopped copy that shares its disks with the live VM elsewhere refused."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError
from ansible_collections.vmm.cloud.plugins.module_utils.ha import (
    differs,
    ha_dir,
    read_record,
    record_path,
    remove_record,
    write_record,
)
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import utc_now


class HaSync:
    """HA records of the VMs of one node; without a shared store (no `shared_dir` recorded) it does nothing."""

    def __init__(self, client, log, node_facts):
        self.client = client
        self.log = log
        self.directory = ha_dir(node_facts)
        self.node = node_facts.get("name")
        self.removed_live_copy = False  # an absent run removed a running copy the record did not name

    def _path(self, name):
        return record_path(self.directory, name) if self.directory else None

    def sync(self, name):
        """Keep the VM's record as the VM is: written while it is marked ha, gone when not."""
        path = self._path(name)
        if path is None:
            return
        current = read_record(path)
        dom = self.client.find_domain(name)
        xml = self.client.domain_xml(dom, inactive=True) if dom is not None else None
        facts = parse_domain_xml(xml) if xml is not None else None
        ours = current is None or current.get("node") in (None, self.node) or self.removed_live_copy
        if facts is None or not facts["metadata"]["ha"]:
            if current is not None and ours:
                self.log.apply(f"removed HA record {path}", remove_record, path)
            return
        if not ours and not self.client.is_active(dom):
            return  # a stopped copy while the record names another node: the record is not this copy's
        wanted = {"name": name, "uuid": facts["uuid"], "node": self.node, "cluster": facts["metadata"].get("cluster"),
                  "memory_mib": facts["max_memory_mib"], "vcpus": facts["vcpus"], "xml": xml}
        if differs(current, wanted):
            self.log.apply(f"wrote HA record {path}", write_record, path, dict(wanted, updated=utc_now()))

    def check_removal(self, dom):
        """Refuse to delete a stopped copy left on a node that died and came back: it shares its disks with the
        live VM elsewhere. A copy that runs here holds the disks (QEMU's locks): it is the live one, whatever the
        record says."""
        name = dom.name()
        path = self._path(name)
        record = read_record(path) if path else None
        if record is None or record.get("node") in (None, self.node):
            return
        if self.client.is_active(dom):
            self.removed_live_copy = True
            return
        raise ConflictError(f"name: the HA record of {name} says it lives on {record['node']}; this stopped copy "
                            "shares its disks: release it with vmm.cloud.ha_vm state=released (cluster_heal does) "
                            "instead of deleting it", field="name")
