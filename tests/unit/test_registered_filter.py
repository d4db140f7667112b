"""The registered filter: what each host registered under one name, by host."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.filter.registered import registered


def test_each_host_its_value_or_the_default():
    hostvars = {"n1": {"vmm_node_facts": {"node": {"name": "n1"}}}, "n2": {"other": 1}}
    assert registered(["n1", "n2", "n3"], hostvars, "vmm_node_facts", {"unreachable": True}) == {
        "n1": {"node": {"name": "n1"}}, "n2": {"unreachable": True}, "n3": {"unreachable": True}}
    assert registered(["n2"], hostvars, "vmm_ha_info") == {"n2": {}}
    assert registered([], hostvars, "vmm_node_facts") == {}
