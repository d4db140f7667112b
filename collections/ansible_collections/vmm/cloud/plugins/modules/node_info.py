#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: node_info
short_description: Facts and health of a hypervisor node
description:
  - CPU, memory and storage pool figures, VM counts, libvirt and QEMU versions, whether libvirtd answers,
    and which domain type (V(kvm) or V(qemu)) guests get on this node.
  - With O(probe_image), boots a throw-away guest of each type in O(probe_types) and reports which really boots.
    A node where C(/dev/kvm) exists but KVM guests hang is caught this way. Nothing is left behind.
  - The probe's verdict is what M(vmm.cloud.vm) uses for C(domain_type=auto) once the node bootstrap records it
    in C(/var/lib/vmm/node.json).
version_added: 0.1.0
author: vmm contributors (@vmm-dev)
options:
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  probe_image:
    description: Path on the node of a bootable qcow2 or raw image that prints O(probe_marker) on its serial console.
    type: path
  probe_types:
    description: Domain types to probe, in order of preference.
    type: list
    elements: str
    choices: [kvm, qemu]
    default: [kvm, qemu]
  probe_timeout:
    description: Seconds a probe guest has to print the marker.
    type: int
    default: 20
  probe_marker:
    description: Text the probe image prints on its serial console once it has booted.
    type: str
    default: VMM-SEED
  probe_dir:
    description: Directory for the probe guest's temporary overlay.
    type: path
    default: /var/lib/vmm/disks
notes:
  - An unreachable libvirtd is reported as RV(node.libvirtd_alive=false), not as a failure.
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Health of the node
  vmm.cloud.node_info:
  register: node

- name: Find out which domain type really boots
  vmm.cloud.node_info:
    probe_image: /var/lib/vmm/images/vmm-tiny.qcow2
  register: probed
"""

RETURN = r"""
node:
  description: Facts and health of the node.
  returned: always
  type: dict
  contains:
    libvirtd_alive:
      description: Whether libvirtd answered on O(uri).
      type: bool
    error:
      description: Why libvirtd did not answer.
      type: str
    hostname:
      description: Host name as libvirt reports it.
      type: str
    cpus:
      description: Logical CPUs.
      type: int
    memory_total_mib:
      description: Memory of the node in MiB.
      type: int
    memory_free_mib:
      description: Free memory in MiB.
      type: int
    pools:
      description: Storage pools with capacity, allocation and available bytes.
      type: list
      elements: dict
    vm_count:
      description: VMs defined on the node.
      type: int
    vms:
      description:
        - Every VM defined on the node with what it commits (name, vcpus, memory_mib, active) and the addresses it
          holds (ips, from its definition; see P(vmm.cloud.held_addresses#filter)).
      type: list
      elements: dict
    cluster:
      description: The cluster the node bootstrap recorded for this node.
      type: str
    maintenance:
      description: Whether the node is in maintenance (drained; left out of placement).
      type: bool
    health:
      description:
        - V(ok) and the problems that keep the node from taking VMs, in words (libvirtd not answering, no domain
          type that boots, free memory low, a storage pool inactive or nearly full, maintenance). A node that SSH
          cannot reach shows as unreachable in Ansible instead.
      type: dict
    vm_running:
      description: VMs running on the node.
      type: int
    domain_types_available:
      description: Domain types libvirt offers for x86_64 guests.
      type: list
      elements: str
    domain_type:
      description: The domain type C(domain_type=auto) gives a new VM here.
      type: str
    domain_type_source:
      description: V(probe) when from a probe (this run's or a recorded one), else V(capabilities).
      type: str
    kvm_device:
      description: Whether C(/dev/kvm) exists, and its mode.
      type: dict
    probe:
      description: Result per probed domain type (ok, seconds, error); empty without O(probe_image).
      type: dict
    recorded:
      description: The content of C(/var/lib/vmm/node.json), if any.
      type: dict
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import NODE_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.domain_type import choose_domain_type
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import LibvirtConnectionError
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import domain_types
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.node_probe import probe_boot
from ansible_collections.vmm.cloud.plugins.module_utils.placement import node_health


def kvm_device():
    try:
        mode = os.stat("/dev/kvm").st_mode
    except OSError:
        return {"exists": False, "mode": None}
    return {"exists": True, "mode": oct(stat.S_IMODE(mode))}


def run_probes(context, available):
    params = context.module.params
    results = {}
    for kind in params["probe_types"]:
        if kind not in available:
            results[kind] = {"ok": False, "seconds": 0, "error": "not offered by libvirt"}
            continue
        results[kind] = probe_boot(context.client, context.qemu_img, params["probe_image"], kind,
                                   params["probe_timeout"], params["probe_marker"], params["probe_dir"])
        if results[kind]["ok"]:
            break  # the preferred type works; no need to try the slower ones
    return results


def describe(context):
    client = context.client
    available = domain_types(client.capabilities_xml())
    vms = client.domains_summary()
    for vm in vms:  # the addresses each VM holds (its metadata): what IP pools count as used
        dom = client.find_domain(vm["name"])
        vm["ips"] = parse_domain_xml(client.domain_xml(dom, inactive=True))["metadata"]["ips"] if dom else []
    node = dict(client.host_summary(), libvirtd_alive=True, error=None, pools=client.pools_usage(),
                vm_count=len(vms), vm_running=sum(1 for vm in vms if vm["active"]), vms=vms,
                domain_types_available=available, kvm_device=kvm_device(), probe={})
    node["recorded"] = context.node_facts
    node["cluster"] = node["recorded"].get("cluster")
    node["maintenance"] = bool(node["recorded"].get("maintenance"))
    recorded = node["recorded"].get("domain_type")
    if context.module.params["probe_image"]:
        node["probe"] = run_probes(context, available)
        recorded = next((kind for kind, result in node["probe"].items() if result["ok"]), None)
        if recorded is None:
            node["error"] = "no domain type boots a guest on this node"
    chosen, why = choose_domain_type("auto", available, recorded) if available else (None, None)
    node.update(domain_type=chosen, domain_type_source=why)
    node["health"] = node_health(node)
    return node


def work(context):
    try:
        node = describe(context)
    except LibvirtConnectionError as exc:
        recorded = context.node_facts
        node = {"libvirtd_alive": False, "error": exc.msg, "kvm_device": kvm_device(), "probe": {}, "vms": [],
                "recorded": recorded, "cluster": recorded.get("cluster"),
                "maintenance": bool(recorded.get("maintenance"))}
        node["health"] = node_health(node)
    return {"node": node}


def main():
    module = AnsibleModule(argument_spec=NODE_INFO_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
