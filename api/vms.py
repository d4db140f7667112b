"""Who owns a VM: read from the VM's own metadata in libvirt (what vmm.cloud.vm wrote there)."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient

from .errors import ApiError


class VmDirectory:
    """Looks a VM up on every node of the inventory (or on one libvirt URI when given no node list)."""

    def __init__(self, uri, nodes=None):
        self.uri = uri
        self.node_list = nodes

    def _uris(self):
        if self.node_list is None:
            return [self.uri]
        try:
            return [node.uri for node in self.node_list.nodes()] or [self.uri]
        except (OSError, RuntimeError, ValueError) as exc:
            raise ApiError(503, f"Cannot read the nodes of the inventory: {exc}") from None

    def lookup(self, name):
        """(exists, owner) of the VM called `name`."""
        unreachable = []
        for uri in self._uris():
            try:
                client = LibvirtClient(uri)
            except VmmError:
                unreachable.append(uri)
                continue
            try:
                dom = client.find_domain(name)
                if dom is not None:
                    return True, parse_domain_xml(client.domain_xml(dom))["metadata"].get("owner")
            except VmmError:
                unreachable.append(uri)
            finally:
                client.close()
        if unreachable:
            # The VM may be on a node that does not answer: its owner cannot be told.
            raise ApiError(503, f"Cannot read the VM's owner: {len(unreachable)} node(s) do not answer")
        return False, None
