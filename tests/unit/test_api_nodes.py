"""The API's view of the inventory's nodes, and the HA watcher's decisions (fake probe, fake job service)."""

from types import SimpleNamespace

from api.ha_watch import HaWatcher
from api.nodes import Node, parse_inventory

LISTING = {
    "_meta": {"hostvars": {
        "node1": {"ansible_host": "10.0.0.11", "vmm_cluster": "a"},
        "node2": {"ansible_host": {"__ansible_unsafe": "10.0.0.12"}, "ansible_port": 2222, "ansible_user": "ops"},
        "node3": {"vmm_libvirt_uri": "qemu+tls://node3/system"},
        "localhost": {"ansible_connection": "local"},
        "web1": {"ansible_host": "192.0.2.1"},
    }},
    "all": {"children": ["vmm_nodes", "ungrouped"]},
    "vmm_nodes": {"children": ["cluster_a", "cluster_b"], "hosts": ["localhost"]},
    "cluster_a": {"hosts": ["node1", "node2"]},
    "cluster_b": {"hosts": ["node3"], "children": ["cluster_a"]},
    "ungrouped": {"hosts": ["web1"]},
}


def test_nodes_of_the_inventory():
    assert parse_inventory(LISTING) == [
        Node("localhost", "localhost", 22, "qemu:///system", True),
        Node("node1", "10.0.0.11", 22, "qemu+ssh://root@10.0.0.11/system", False),
        Node("node2", "10.0.0.12", 2222, "qemu+ssh://ops@10.0.0.12/system", False),
        Node("node3", "node3", 22, "qemu+tls://node3/system", False),
    ]


class FakeJobs:
    def __init__(self):
        self.submitted = []

    def submit(self, operation, variables, limit, launched_by, owner):
        self.submitted.append((operation.name, variables, launched_by))
        return len(self.submitted)


def watcher(answering):
    nodes = parse_inventory(LISTING)
    jobs = FakeJobs()
    settings = SimpleNamespace(ha_interval=1, workers=1)
    node_list = SimpleNamespace(nodes=lambda: nodes)
    return HaWatcher(settings, jobs, node_list, probe=lambda host, port: host in answering), jobs


def test_a_node_silent_twice_runs_cluster_heal_once_and_again_when_it_returns():
    answering = {"10.0.0.11", "10.0.0.12", "node3"}
    ha, jobs = watcher(answering)
    assert ha.look() is None
    answering.discard("10.0.0.12")
    assert ha.look() is None  # one silent look is not enough
    assert ha.look() == 1
    assert jobs.submitted == [("cluster_heal", {}, "ha-watcher")]
    assert ha.look() is None and ha.look() is None  # still dead: nothing new to do
    answering.add("10.0.0.12")
    assert ha.look() == 2  # back: its stale copies are to be released
    assert ha.look() is None
    assert len(jobs.submitted) == 2


def test_local_nodes_are_never_probed():
    probed = []
    ha, jobs = watcher(set())
    ha.probe = lambda host, port: probed.append(host) or True
    ha.look()
    assert "localhost" not in probed and sorted(probed) == ["10.0.0.11", "10.0.0.12", "node3"]
    assert jobs.submitted == []
