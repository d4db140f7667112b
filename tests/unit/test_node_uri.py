"""A node's libvirt URI from its inventory variables, by table; and the same rule as the
vmm.cloud.node_uri filter, through a real ansible-playbook run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.vmm.cloud.plugins.filter.node_uri import FilterModule
from ansible_collections.vmm.cloud.plugins.module_utils.node_uri import node_uri

ROOT = Path(__file__).resolve().parents[2]

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


def test_the_filter_is_node_uri():
    assert FilterModule().filters() == {"node_uri": node_uri}


def test_the_filter_in_a_playbook(tmp_path):
    """The filter as playbooks/tasks/migrate_vm.yml uses it, on real hostvars (not a plain dict)."""
    inventory = {"all": {"hosts": {name: hostvars for name, (hostvars, _) in CASES.items()}}}
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"ansible.builtin.debug": {"msg": "{{ item | vmm.cloud.node_uri(hostvars[item]) }}"},
         "loop": "{{ groups['all'] | sort }}"}]}]
    (tmp_path / "play.json").write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "hosts.json"),
                           str(tmp_path / "play.json")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"]
    assert {result["item"]: result["msg"] for result in results} == {
        name: expected for name, (_, expected) in CASES.items()}
