# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: libvirt
short_description: The VMs of every vmm node, with their node, owner, cluster, state and IPs
description:
  - Reads the nodes from a vmm node inventory (group O(nodes_group)) or from O(nodes), asks each node's libvirtd
    (C(qemu+ssh://) from the controller, or each node's C(vmm_libvirt_uri)) for its VMs, and makes every VM a host.
  - Host variables C(vmm_node), C(vmm_owner), C(vmm_cluster), C(vmm_state), C(vmm_ips), C(vmm_ha), C(vmm_image),
    C(vmm_uuid); C(ansible_host) is the VM's first address. Groups C(vmm_vms), C(vm_node_<node>),
    C(vm_owner_<owner>), C(vm_cluster_<cluster>), C(vm_state_<state>) (prefixed, so that they never mix with the
    node inventory's C(cluster_<name>) groups when both feed one AWX inventory), plus what O(keyed_groups) and
    O(groups) make.
  - A node that does not answer is reported as a warning and its VMs are left out; the source does not fail, so
    an AWX inventory update still shows the rest.
  - Nodes are asked in parallel (up to O(workers) at once).
  - Use a file whose name ends in C(vmm.yml) or C(vmm.yaml).
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [vmm.cloud.libvirt]
  node_inventory:
    description: Path of the vmm node inventory (relative to this file); its O(nodes_group) hosts are the nodes.
    type: path
  nodes_group:
    description: Group of the node inventory holding the nodes.
    type: str
    default: vmm_nodes
  nodes:
    description: Node name to libvirt URI, instead of (or besides) O(node_inventory).
    type: dict
    default: {}
  workers:
    description: How many nodes are asked at once.
    type: int
    default: 16
  report_var:
    description:
      - When set, group C(all) also gets a variable of this name mapping each node to what it answered
        (C(ok), C(error) when it did not answer, C(vms) with every VM's facts), so that a play can record
        the whole directory, nodes that did not answer included (the vmm API's C(inventory_sync) does).
    type: str
"""

EXAMPLES = r"""
# cluster.vmm.yml
plugin: vmm.cloud.libvirt
node_inventory: hosts.yml
keyed_groups:
  - key: vmm_owner
    prefix: customer
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.vars.manager import VariableManager

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from ansible_collections.vmm.cloud.plugins.module_utils.node_uri import node_uri
from ansible_collections.vmm.cloud.plugins.module_utils.vm_facts import vm_facts

_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def read_vms(uri):
    """Facts of every VM a node's libvirtd knows."""
    client = LibvirtClient(uri)
    try:
        vms = []
        for dom in client.list_domains():
            facts = parse_domain_xml(client.domain_xml(dom))
            state = client.domain_state(dom)
            leases = client.interface_addresses(dom) if state == "running" else {}
            vms.append(vm_facts(facts, state=state, leases=leases))
        return vms
    finally:
        client.close()


def _ask(uri):
    """(VMs, None) of a node that answered, (None, why) of one that did not."""
    try:
        return read_vms(uri), None
    except VmmError as exc:
        return None, exc.msg


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "vmm.cloud.libvirt"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("vmm.yml", "vmm.yaml"))

    def _nodes(self, path):
        nodes = dict(self.get_option("nodes") or {})
        source = self.get_option("node_inventory")
        if source:
            source = os.path.join(os.path.dirname(path), source) if not os.path.isabs(source) else source
            loader = DataLoader()
            inventory = InventoryManager(loader=loader, sources=[source])
            variables = VariableManager(loader=loader, inventory=inventory)
            group = self.get_option("nodes_group")
            if group not in inventory.groups:
                raise AnsibleParserError(f"node_inventory: no group {group} in {source}")
            for host in inventory.groups[group].get_hosts():
                nodes.setdefault(host.name, node_uri(host.name, variables.get_vars(host=host)))
        if not nodes:
            raise AnsibleParserError("give node_inventory or nodes: there are no nodes to ask")
        return nodes

    def _group(self, prefix, value):
        return self.inventory.add_group(f"{prefix}_{_GROUP_UNSAFE.sub('_', str(value))}")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self.inventory.add_group("vmm_vms")
        nodes = sorted(self._nodes(path).items())
        with ThreadPoolExecutor(max_workers=max(1, min(self.get_option("workers"), len(nodes) or 1))) as pool:
            answers = list(pool.map(_ask, [uri for node, uri in nodes]))
        report = {}
        for (node, uri), (vms, error) in zip(nodes, answers, strict=True):
            report[node] = {"ok": error is None, "error": error, "vms": vms or []}
            if error is not None:
                self.display.warning(f"vmm.cloud.libvirt: node {node} left out ({uri}): {error}")
                continue
            for vm in vms:
                self._add_vm(node, vm)
        if self.get_option("report_var"):
            self.inventory.set_variable("all", self.get_option("report_var"), report)

    def _add_vm(self, node, vm):
        name = vm["name"]
        self.inventory.add_host(name, group="vmm_vms")
        variables = {"vmm_node": node, "vmm_owner": vm["owner"], "vmm_cluster": vm["cluster"],
                     "vmm_state": vm["state"], "vmm_ips": vm["ips"], "vmm_ha": vm["ha"], "vmm_image": vm["image"],
                     "vmm_uuid": vm["uuid"], "vmm_vcpus": vm["vcpus"], "vmm_memory": vm["memory"]}
        if vm["ips"]:
            variables["ansible_host"] = vm["ips"][0]
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        self.inventory.add_child(self._group("vm_node", node), name)
        self.inventory.add_child(self._group("vm_state", vm["state"]), name)
        if vm["owner"]:
            self.inventory.add_child(self._group("vm_owner", vm["owner"]), name)
        if vm["cluster"]:
            self.inventory.add_child(self._group("vm_cluster", vm["cluster"]), name)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
