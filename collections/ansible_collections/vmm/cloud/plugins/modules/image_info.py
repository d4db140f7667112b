#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: List the images of the node's image store
description:
  - Returns the metadata of every image in the store, or of one, with the VMs using each.
version_added: 0.1.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: Only this image.
    type: str
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  image_pool:
    description: libvirt directory pool of the image store.
    type: str
    default: vmm-images
seealso:
  - module: vmm.cloud.image
"""

EXAMPLES = r"""
- name: List images
  vmm.cloud.image_info:
  register: store
"""

RETURN = r"""
images:
  description: Image metadata sorted by name, each with C(used_by), the VMs whose disks sit on it.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import IMAGE_INFO_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module


def work(context):
    store = context.images
    name = context.module.params["name"]
    images = [store.get(name)] if name else store.list()
    images = [dict(image, used_by=store.users(image["path"])) for image in images if image]
    return {"images": images, "msg": f"{len(images)} image(s)"}


def main():
    module = AnsibleModule(argument_spec=IMAGE_INFO_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
