"""A node's libvirt URI from its inventory variables, by table."""

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.node_uri import node_uri

CASES = {
    "node1": ({"ansible_host": "10.0.0.11"}, "qemu+ssh://root@10.0.0.11/system"),
    "node2": ({"ansible_host": "10.0.0.12", "ansible_user": "ops"}, "qemu+ssh://ops@10.0.0.12/system"),
    "node3": ({}, "qemu+ssh://root@node3/system"),
    "node4": ({"vmm_libvirt_uri": "qemu+tls://node4/system", "ansible_host": "10.0.0.14",
               "ansible_connection": "local"}, "qemu+tls://node4/system"),
    "node5": ({"ansible_connection": "local", "ansible_host": "10.0.0.15", "ansible_user": "ops"},
              "qemu:///system"),
    "node6": ({"vmm_libvirt_uri": "", "ansible_user": "", "ansible_host": ""}, "qemu+ssh://root@node6/system"),
    "node7": ({"ansible_connection": "ssh", "ansible_host": "node7.example.org"},
              "qemu+ssh://root@node7.example.org/system"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_uri(name):
    hostvars, expected = CASES[name]
    assert node_uri(name, hostvars) == expected

