#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image
short_description: Register and delete base images in the node's image store
description:
  - Copies a qcow2 or raw image (a file on the node or an HTTP(S) URL reachable from it) into the image store,
    a libvirt directory pool, with its metadata beside it.
  - An ISO 9660 file (a CD image) is kept as an ISO (C(kind=iso), C(<name>.iso)). VMs boot it with the
    O(vmm.cloud.vm#module:iso) or O(vmm.cloud.vm#module:rescue_image) options of M(vmm.cloud.vm) and never get a
    disk from it.
  - Registering the same content again changes nothing. Different content under an existing name replaces the
    image only while no VM uses it.
  - Deleting an image is refused while any VM's disk is an overlay on it.
version_added: 0.1.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: Image name in the store.
    type: str
    required: true
  src:
    description: Path on the node, or an C(http://) or C(https://) URL, of the image to register.
    type: str
  vm:
    description:
      - Make the image from the system disk (the first writable disk) of this VM on the node, which must be stopped,
        instead of O(src). The disk is flattened (its backing image merged in) into a standalone qcow2 image.
      - An image of that name that exists is left as it is; delete it first to take it again.
    type: str
  checksum:
    description: Expected SHA-256 of O(src); the registration fails when the content differs.
    type: str
  os:
    description: Operating system label kept in the metadata.
    type: str
  description:
    description: Free text kept in the metadata.
    type: str
  state:
    description: V(present) registers, V(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  image_pool:
    description: libvirt directory pool of the image store.
    type: str
    default: vmm-images
seealso:
  - module: vmm.cloud.image_info
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Keep a rescue CD in the store (an ISO file is stored as an ISO)
  vmm.cloud.image:
    name: rescue
    src: /var/cache/vmm/images/vmm-rescue.iso

- name: Register an image
  vmm.cloud.image:
    name: debian-12
    src: /srv/images/debian-12.qcow2
    os: debian12

- name: An image of the stopped VM web1's disk, for new VMs like it
  vmm.cloud.image:
    name: web1-golden
    vm: web1
    description: web1 after its setup

- name: Delete it (refused while a VM uses it)
  vmm.cloud.image:
    name: debian-12
    state: absent
"""

RETURN = r"""
image:
  description: Metadata of the image; null once it is absent.
  returned: always
  type: dict
  sample:
    name: debian-12
    path: /var/lib/vmm/images/debian-12.qcow2
    format: qcow2
    virtual_size: 2147483648
    sha256: 9f2c...
    registered: "2026-11-24T09:00:00Z"
    kind: disk
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_file

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import IMAGE_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ConflictError, NotFoundError, ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import file_sha256
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.validate import check_name


def local_source(module):
    """A file path for `src`, downloading a URL to a temporary file first."""
    src = module.params["src"]
    if src.startswith(("http://", "https://")):
        return fetch_file(module, src)
    if not os.path.isabs(src):
        raise ValidationError("src: must be an absolute path or an http(s) URL", field="src")
    return src


def from_vm(context, log):
    """The image `name` taken from the system disk of the stopped VM `vm`."""
    params = context.module.params
    store = context.images
    current = store.get(params["name"])
    if current is not None:
        return {"image": current}
    vm = check_name(params["vm"], field="vm")
    dom = context.client.find_domain(vm)
    if dom is None:
        raise NotFoundError(f"vm: no VM called {vm} on {context.client.uri}", field="vm")
    if context.client.domain_state(dom) != "shutoff":
        raise ConflictError(f"vm: VM {vm} is {context.client.domain_state(dom)}; stop it first (a running guest's disk "
                            "is not consistent)", field="vm")
    facts = parse_domain_xml(context.client.domain_xml(dom, inactive=True))
    disk = next((d for d in facts["disks"] if d["device"] == "disk" and not d["readonly"] and d["path"]), None)
    if disk is None:
        raise ConflictError(f"vm: VM {vm} has no writable disk to make an image of", field="vm")
    metadata = {key: params[key] for key in ("os", "description") if params[key]}
    metadata.update(source=f"vm:{vm}", source_disk=disk["path"])
    planned = {"name": params["name"], "format": "qcow2", "source": metadata["source"]}
    image = log.apply(f"created image {params['name']} from {disk['path']} of VM {vm}", store.capture,
                      params["name"], disk["path"], disk["format"] or "qcow2", metadata)
    return {"image": image or planned, "before": None, "after": planned}


def state_present(context, log):
    params = context.module.params
    if params["vm"]:
        return from_vm(context, log)
    if not params["src"]:
        raise ValidationError("src: required with state=present (or vm)", field="src")
    src = local_source(context.module)
    if params["checksum"] and file_sha256(src) != params["checksum"].lower():
        raise ValidationError(f"checksum: {params['src']} does not have SHA-256 {params['checksum']}",
                              field="checksum")
    store = context.images
    action, info, sha256 = store.plan_register(params["name"], src, params["checksum"])
    if action is None:
        return {"image": store.get(params["name"])}
    metadata = {key: params[key] for key in ("os", "description") if params[key]}
    metadata["source"] = params["src"]
    before = store.get(params["name"]) if action == "replace" else None
    planned = {"name": params["name"], "sha256": sha256, "format": info["format"], "virtual_size": info["virtual-size"]}
    image = log.apply(f"{action}d image {params['name']}", store.register, params["name"], src, info, sha256,
                      metadata)
    return {"image": image or planned, "before": before, "after": planned}


def state_absent(context, log):
    store = context.images
    current = store.get(context.module.params["name"])
    if current is None:
        return {"image": None}
    store.ensure_unused(current)
    log.apply(f"deleted image {current['name']}", store.delete, current["name"])
    return {"image": None, "before": current, "after": None}


def work(context):
    log = context.log
    state = context.module.params["state"]
    result = state_present(context, log) if state == "present" else state_absent(context, log)
    return result


def main():
    module = AnsibleModule(argument_spec=IMAGE_SPEC, supports_check_mode=True, mutually_exclusive=[("src", "vm")])
    run_module(module, work)


if __name__ == "__main__":
    main()
