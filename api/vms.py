"""Who owns a VM: read from the VM's own metadata in libvirt (what vmm.cloud.vm wrote there)."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import parse_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient

from .errors import ApiError


class VmDirectory:
    def __init__(self, uri):
        self.uri = uri

    def lookup(self, name):
        """(exists, owner) of the VM called `name`."""
        try:
            client = LibvirtClient(self.uri)
            try:
                dom = client.find_domain(name)
                if dom is None:
                    return False, None
                return True, parse_domain_xml(client.domain_xml(dom))["metadata"].get("owner")
            finally:
                client.close()
        except VmmError as exc:
            raise ApiError(503, f"Cannot read the VM's owner from libvirt ({self.uri}): {exc}") from None
