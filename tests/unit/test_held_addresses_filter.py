"""The held_addresses filter: the addresses the VMs of some nodes hold, each with its VM and node."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.filter.held_addresses import held_addresses

HOSTVARS = {
    "n1": {"vmm_node_facts": {"node": {"vms": [{"name": "web", "ips": ["192.0.2.11", "2001:db8::5"]},
                                               {"name": "dhcp", "ips": []}]}}},
    "n2": {"vmm_node_facts": {"node": {"vms": [{"name": "db", "ips": ["192.0.2.10"]}]}},
           "vmm_holder_facts": {"node": {"vms": [{"name": "db", "ips": ["192.0.2.10"]}]}}},
    "n3": {"vmm_node_facts": {"unreachable": True}, "vmm_holder_facts": {"skipped": True}},
}


@pytest.mark.parametrize(("hosts", "name", "expected"), [
    (["n1", "n2"], "vmm_node_facts", [{"address": "192.0.2.10", "vm": "db", "node": "n2"},
                                      {"address": "192.0.2.11", "vm": "web", "node": "n1"},
                                      {"address": "2001:db8::5", "vm": "web", "node": "n1"}]),
    (["n2", "n2"], "vmm_node_facts", [{"address": "192.0.2.10", "vm": "db", "node": "n2"}]),
    # unreachable, skipped (a node the playbook had read already), not in the inventory: nothing
    (["n3", "n4"], "vmm_node_facts", []),
    (["n1", "n2", "n3"], "vmm_holder_facts", [{"address": "192.0.2.10", "vm": "db", "node": "n2"}]),
])
def test_each_address_with_its_vm_and_node(hosts, name, expected):
    assert held_addresses(hosts, HOSTVARS, name) == expected
