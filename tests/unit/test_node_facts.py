"""The node's record (/var/lib/vmm/node.json), read and written in one place; here in a temporary file."""

from __future__ import annotations

import json

from ansible_collections.vmm.cloud.plugins.module_utils.changes import ChangeLog
from ansible_collections.vmm.cloud.plugins.module_utils.node_facts import facts_for, read_node_facts, set_maintenance


def test_facts_are_this_nodes_only_for_its_own_libvirt(tmp_path):
    path = tmp_path / "node.json"
    path.write_text(json.dumps({"name": "n1", "cluster": "c1"}))
    assert facts_for("qemu:///system", path) == {"name": "n1", "cluster": "c1"}
    assert facts_for("qemu+ssh://root@n2/system", path) == {}
    path.write_text("[1, 2]")  # not an object: no facts rather than a crash
    assert read_node_facts(path) == {}
    assert read_node_facts(tmp_path / "missing.json") == {}


def test_maintenance_on_then_again_then_off_keeps_the_other_facts(tmp_path):
    path = tmp_path / "node.json"
    path.write_text(json.dumps({"name": "n1", "shared_dir": "/srv/vmm"}))

    log = ChangeLog(check_mode=False)
    result = set_maintenance(log, True, "kernel update", "2026-11-28T03:00:00Z", path)
    assert log.actions == ["put in maintenance"] and result["after"]["maintenance_reason"] == "kernel update"
    assert read_node_facts(path) == {"name": "n1", "shared_dir": "/srv/vmm", "maintenance": True,
                                     "maintenance_reason": "kernel update",
                                     "maintenance_since": "2026-11-28T03:00:00Z"}

    again = ChangeLog(check_mode=False)
    set_maintenance(again, True, None, "2026-11-28T04:00:00Z", path)  # no reason given: the old one stays
    assert again.actions == [] and read_node_facts(path)["maintenance_since"] == "2026-11-28T03:00:00Z"

    off = ChangeLog(check_mode=False)
    result = set_maintenance(off, False, None, "2026-11-28T05:00:00Z", path)
    assert off.actions == ["taken out of maintenance"] and result["before"]["maintenance"] is True
    facts = read_node_facts(path)
    assert facts["maintenance"] is False and facts["maintenance_reason"] is None and facts["name"] == "n1"
    assert [p.name for p in tmp_path.iterdir()] == ["node.json"]  # no temporary file left


def test_maintenance_in_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "node.json"
    path.write_text(json.dumps({"name": "n1"}))
    log = ChangeLog(check_mode=True)
    result = set_maintenance(log, True, "disk swap", "2026-11-28T03:00:00Z", path)
    assert log.actions == ["put in maintenance"] and result["after"]["maintenance"] is True
    assert read_node_facts(path) == {"name": "n1"}
