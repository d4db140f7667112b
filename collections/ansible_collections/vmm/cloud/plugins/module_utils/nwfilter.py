# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Anti-spoofing with libvirt's nwfilter: which filter a NIC gets, and the collection's own filters.

A NIC that holds pool addresses is bound to a filter with them as parameters, so its traffic leaves only from its
own MAC and addresses (ebtables rules on the node, made by libvirt). IPv4 alone: libvirt's `clean-traffic` (which
drops all IPv6). With IPv6: the collection's `vmm-clean-traffic`, clean-traffic's IPv4 and ARP rules plus an IPv6
source check (`vmm-no-ipv6-spoofing`: link-local and duplicate-address-detection sources, else only the NIC's
`IPV6` list); libvirt ships no IPv6 equivalent. A NIC with IPv6 but no pool IPv4 (IPv4 from DHCP) has its IPv4
learned from the DHCP exchange only (CTRL_IP_LEARNING=dhcp), never from what the guest sends.
Routed NICs are tap devices on no bridge, outside ebtables' reach: they are not bound.
"""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import etree

CLEAN_TRAFFIC = "clean-traffic"
VMM_CLEAN_TRAFFIC = "vmm-clean-traffic"
VMM_NO_IPV6_SPOOFING = "vmm-no-ipv6-spoofing"

# Defined in this order (the second refers to the first). Comments are kept out: libvirt drops them.
FILTERS = (
    (VMM_NO_IPV6_SPOOFING, """<filter name='vmm-no-ipv6-spoofing' chain='ipv6-ip' priority='-610'>
  <rule action='return' direction='out' priority='100'><ipv6 srcipaddr='fe80::' srcipmask='10'/></rule>
  <rule action='return' direction='out' priority='110'><ipv6 srcipaddr='::' srcipmask='128' protocol='icmpv6'/></rule>
  <rule action='return' direction='out' priority='500'><ipv6 srcipaddr='$IPV6'/></rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>"""),
    (VMM_CLEAN_TRAFFIC, """<filter name='vmm-clean-traffic' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <rule action='accept' direction='out' priority='-650'><mac protocolid='ipv4'/></rule>
  <filterref filter='allow-incoming-ipv4'/>
  <filterref filter='no-arp-spoofing'/>
  <rule action='accept' direction='inout' priority='-500'><mac protocolid='arp'/></rule>
  <filterref filter='vmm-no-ipv6-spoofing'/>
  <rule action='accept' direction='out' priority='-600'><mac protocolid='ipv6'/></rule>
  <filterref filter='allow-incoming-ipv6'/>
  <filterref filter='no-other-l2-traffic'/>
  <filterref filter='qemu-announce-self'/>
</filter>"""),
)


def nic_filter(nic):
    """{name, parameters: [(name, value)]} for a NIC's filterref, or None for a NIC without pool addresses."""
    held = nic.get("addresses") or []
    if not held or nic["type"] == "routed":
        return None
    v4 = [a["address"] for a in held if a["version"] == 4]
    v6 = [a["address"] for a in held if a["version"] == 6]
    if not v6:
        return {"name": CLEAN_TRAFFIC, "parameters": [("IP", ip) for ip in v4]}
    parameters = [("IP", ip) for ip in v4] if v4 else [("CTRL_IP_LEARNING", "dhcp")]
    return {"name": VMM_CLEAN_TRAFFIC, "parameters": parameters + [("IPV6", ip) for ip in v6]}


def needs_vmm_filters(interfaces):
    return any((nic.get("filter") or {}).get("name") == VMM_CLEAN_TRAFFIC for nic in interfaces or [])


def _canonical(xml):
    """A filter's definition without what libvirt adds (uuid, rule ids), for comparing."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    for uuid in root.findall("uuid"):
        root.remove(uuid)
    for element in root.iter():
        element.tail = None
        if element.text is not None and not element.text.strip():
            element.text = None
    return etree.tostring(root, method="c14n")


def ensure_filters(client, log):
    """Define the collection's filters on the node where missing or different (keeping a defined one's uuid)."""
    for name, xml in FILTERS:
        current = client.nwfilter_xml(name)
        if current is not None and _canonical(current) == _canonical(xml):
            continue
        wanted = xml
        if current is not None:  # libvirt refuses to redefine a filter without its uuid
            root = etree.fromstring(xml.encode())
            uuid = etree.fromstring(current.encode()).findtext("uuid")
            etree.SubElement(root, "uuid").text = uuid
            wanted = etree.tostring(root, encoding="unicode")
        log.apply(f"{'updated' if current else 'defined'} nwfilter {name}", client.define_nwfilter, wanted)
