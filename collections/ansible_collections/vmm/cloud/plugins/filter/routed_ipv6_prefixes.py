# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: routed_ipv6_prefixes
short_description: The IPv6 subnets of the routed IP pools serving a cluster
description:
  - From C(vmm_ip_pools) (validated as M(vmm.cloud.vm) validates them; an error names the field), the subnets of
    the IPv6 pools with C(routed) that serve VMs of the given cluster (a pool without a cluster serves every
    cluster), each once.
  - The node role (routed mode) answers neighbour solicitations on the uplink for these prefixes (proxy NDP with
    ndppd), so that the provider's router reaches each VM's /128.
version_added: 0.5.0
author: vmm contributors (@vmm-dev)
positional: cluster
options:
  _input:
    description: IP pool declarations (C(vmm_ip_pools)).
    type: list
    elements: dict
    required: true
  cluster:
    description: The node's cluster.
    type: str
    required: true
"""

EXAMPLES = r"""
node_routed_ipv6_prefixes: "{{ vmm_ip_pools | default([]) | vmm.cloud.routed_ipv6_prefixes(node_cluster) }}"
"""

RETURN = r"""
_value:
  description: Subnets such as C(2001:db8:77::/64).
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.ip_pools import parse_pools, pools_for


def routed_ipv6_prefixes(pools, cluster):
    try:
        parsed = parse_pools(pools, field="vmm_ip_pools")
    except ValidationError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    prefixes = []
    for pool in pools_for(parsed, ("routed", None), cluster, 6):
        if pool["subnet"] not in prefixes:
            prefixes.append(pool["subnet"])
    return prefixes


class FilterModule:
    def filters(self):
        return {"routed_ipv6_prefixes": routed_ipv6_prefixes}
