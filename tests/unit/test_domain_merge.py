"""domain_merge: an adopted VM's own definition stays, with only what vmm manages set in it."""

from __future__ import annotations

from lxml import etree

from ansible_collections.vmm.cloud.plugins.module_utils.domain_merge import domain_xml_for, merged_domain_xml
from ansible_collections.vmm.cloud.plugins.module_utils.domain_xml import build_domain_xml, parse_domain_xml

CURRENT = """<domain type='kvm'>
  <name>legacy1</name><uuid>6f1c1a53-6c0e-4a8f-9d35-3a6e7f0d5b11</uuid>
  <metadata>
    <other:app xmlns:other="https://example.com/other/1">keep</other:app>
    <vmm:vm xmlns:vmm="https://vmm.dev/xmlns/vm/1.0"><vmm:owner>alice</vmm:owner>
      <vmm:adopted>2026-11-28T19:00:00Z</vmm:adopted></vmm:vm>
  </metadata>
  <memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>1048576</currentMemory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><boot dev='hd'/></os>
  <devices>
    <disk type='block' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/>
      <source dev='/dev/vg0/legacy1'/><target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></disk>
    <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/><model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
    <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='5' slot='0' function='0'/></source></hostdev>
  </devices>
</domain>"""


def spec_of(xml, **changes):
    facts = parse_domain_xml(xml)
    spec = {key: facts[key] for key in ("name", "uuid", "domain_type", "machine", "arch", "vcpus", "max_vcpus",
                                        "memory_mib", "max_memory_mib", "disks", "interfaces", "graphics",
                                        "serial_log", "metadata")}
    spec.update(changes)
    return spec


def test_only_what_vmm_manages_changes():
    merged = etree.fromstring(merged_domain_xml(spec_of(CURRENT, vcpus=2, max_vcpus=2), CURRENT).encode())
    assert merged.findtext("vcpu") == "2"
    assert merged.find("os/loader").text == "/usr/share/OVMF/OVMF_CODE.fd" and merged.find("os/boot") is not None
    assert merged.find("devices/hostdev") is not None
    assert merged.find("metadata/{https://example.com/other/1}app").text == "keep"
    assert parse_domain_xml(etree.tostring(merged))["metadata"]["owner"] == "alice"
    disk = merged.find("devices/disk")  # unchanged: its element as it was, address and driver options
    assert disk.get("type") == "block" and disk.find("driver").get("io") == "native"
    assert disk.find("address").get("bus") == "0x04"
    assert merged.find("devices/interface/address").get("bus") == "0x01"


def test_a_changed_nic_is_written_new_and_boot_order_drops_os_boot():
    spec = spec_of(CURRENT)
    spec["interfaces"] = [dict(spec["interfaces"][0], model="e1000")]
    spec["disks"] = [dict(spec["disks"][0], boot_order=2),
                     {"path": "/var/lib/vmm/images/rescue.iso", "format": "raw", "target": "hdc", "bus": "ide",
                      "device": "cdrom", "readonly": True, "boot_order": 1}]
    merged = etree.fromstring(merged_domain_xml(spec, CURRENT).encode())
    nic = merged.find("devices/interface")
    assert nic.find("model").get("type") == "e1000" and nic.find("address") is None
    assert merged.find("os/boot") is None  # per-device boot order instead
    assert [d.find("boot").get("order") for d in merged.iterfind("devices/disk")] == ["2", "1"]
    assert merged.find("devices/disk/address").get("bus") == "0x04"  # the system disk kept its element


def test_vmm_made_vms_are_written_whole_without_reading_their_definition_again():
    ours = build_domain_xml(spec_of(CURRENT, metadata=dict(parse_domain_xml(CURRENT)["metadata"], adopted=None)))
    wanted = spec_of(ours, vcpus=3, max_vcpus=3)

    def not_read():
        raise AssertionError("a VM vmm made is written whole: its definition is not read again")

    assert domain_xml_for(wanted, parse_domain_xml(ours), not_read) == build_domain_xml(wanted)


def test_adopted_vms_are_merged_into_the_definition_read():
    wanted = spec_of(CURRENT, vcpus=2, max_vcpus=2)
    assert domain_xml_for(wanted, parse_domain_xml(CURRENT), lambda: CURRENT) == merged_domain_xml(wanted, CURRENT)
