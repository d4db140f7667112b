"""Domain type choice by table, and reading capabilities."""

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.domain_type import choose_domain_type
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import (
    build_volume_xml,
    domain_types,
    parse_volume_xml,
    pool_target_path,
)
from ansible_collections.vmm.cloud.plugins.module_utils.node_facts import read_node_facts


@pytest.mark.parametrize(
    ("requested", "available", "recorded", "expected"),
    [
        ("auto", ["qemu", "kvm"], "qemu", ("qemu", "probe")),   # /dev/kvm there but guests hang
        ("auto", ["qemu", "kvm"], "kvm", ("kvm", "probe")),
        ("auto", ["qemu", "kvm"], None, ("kvm", "capabilities")),
        ("auto", ["qemu"], None, ("qemu", "capabilities")),
        ("auto", ["qemu"], "kvm", ("qemu", "capabilities")),    # recorded type no longer offered
        ("qemu", ["qemu", "kvm"], "kvm", ("qemu", "requested")),
        ("kvm", ["qemu", "kvm"], "qemu", ("kvm", "requested")),
    ],
)
def test_choose(requested, available, recorded, expected):
    assert choose_domain_type(requested, available, recorded) == expected


@pytest.mark.parametrize(("requested", "available"), [("kvm", ["qemu"]), ("auto", [])])
def test_choose_refuses(requested, available):
    with pytest.raises(ValidationError) as err:
        choose_domain_type(requested, available)
    assert err.value.field == "domain_type"
    assert err.value.msg.startswith("domain_type: ")


def test_read_node_facts(tmp_path):
    path = tmp_path / "node.json"
    assert read_node_facts(str(path)) == {}
    path.write_text("not json")
    assert read_node_facts(str(path)) == {}
    path.write_text('{"domain_type": "qemu"}')
    assert read_node_facts(str(path)) == {"domain_type": "qemu"}


CAPS = """<capabilities><host/>
<guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/><domain type='kvm'/></arch></guest>
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
<guest><os_type>xen</os_type><arch name='x86_64'><domain type='xen'/></arch></guest>
</capabilities>"""


def test_domain_types():
    assert domain_types(CAPS) == ["qemu", "kvm"]
    assert domain_types(CAPS, arch="aarch64") == []


def test_pool_target_path():
    pool = "<pool type='dir'><name>vmm</name><target><path>/var/lib/vmm/disks</path></target></pool>"
    assert pool_target_path(pool) == "/var/lib/vmm/disks"
    assert pool_target_path("<pool type='logical'><name>vg</name></pool>") is None


VOLUME_XML = """<volume type='file'>
  <name>web1.qcow2</name>
  <key>/var/lib/vmm/disks/web1.qcow2</key>
  <capacity unit='bytes'>21474836480</capacity>
  <allocation unit='bytes'>200704</allocation>
  <target><path>/var/lib/vmm/disks/web1.qcow2</path><format type='qcow2'/></target>
  <backingStore><path>/srv/shared/images/debian-12.qcow2</path><format type='qcow2'/></backingStore>
</volume>"""


def test_volume_twin_keeps_size_format_and_backing_file():
    volume = parse_volume_xml(VOLUME_XML)
    assert volume == {"name": "web1.qcow2", "capacity": 21474836480, "format": "qcow2",
                      "backing_path": "/srv/shared/images/debian-12.qcow2", "backing_format": "qcow2"}
    assert parse_volume_xml(build_volume_xml(volume)) == volume


def test_volume_without_backing_file():
    volume = {"name": "web1-seed.iso", "capacity": 374784, "format": "raw", "backing_path": None,
              "backing_format": None}
    xml = build_volume_xml(volume)
    assert "backingStore" not in xml
    assert parse_volume_xml(xml) == volume


def test_volume_name_cannot_inject_xml():
    volume = {"name": "a'/><x", "capacity": 1, "format": "raw", "backing_path": None, "backing_format": None}
    assert parse_volume_xml(build_volume_xml(volume))["name"] == "a'/><x"
