#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: uplink_bridge
short_description: Put a node's uplink into a bridge, moving its addresses and routes onto the bridge
description:
  - Creates the bridge O(bridge) with the MAC address of O(uplink), gives it the uplink's global IPv4 and IPv6
    addresses, makes the uplink its port, removes the addresses from the uplink and re-adds the routes that went
    through a gateway on the uplink. VMs on the bridge are then on the uplink's network (bridge mode of a cluster).
  - The steps run in an order that keeps the node reachable over the uplink, so it works over SSH.
  - Changes the running system only; the node role writes the configuration that rebuilds the bridge at boot.
version_added: 0.2.0
author: vmm contributors (@vmm-dev)
options:
  bridge:
    description: Name of the bridge.
    type: str
    default: br0
  uplink:
    description: The interface that carries the node's traffic.
    type: str
    required: true
notes:
  - Check mode reports the C(ip) commands it would run (RV(commands)).
seealso:
  - module: vmm.cloud.vm
"""

EXAMPLES = r"""
- name: Bridge eth0 as br0
  vmm.cloud.uplink_bridge:
    bridge: br0
    uplink: eth0
"""

RETURN = r"""
commands:
  description: The C(ip) commands run (or that would run in check mode).
  returned: always
  type: list
  elements: list
addresses:
  description: Global addresses on the bridge afterwards, as address/prefix.
  returned: always
  type: list
  elements: str
gateway:
  description: The IPv4 default gateway on the bridge afterwards, if any.
  returned: always
  type: str
actions:
  description: The commands run (or that would run in check mode), each as one line.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import UPLINK_BRIDGE_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.uplink_bridge import bridge_uplink


def main():
    module = AnsibleModule(argument_spec=UPLINK_BRIDGE_SPEC, supports_check_mode=True)

    def work(context):
        return bridge_uplink(context.run, context.log, module.params["uplink"], module.params["bridge"])

    run_module(module, work)


if __name__ == "__main__":
    main()
