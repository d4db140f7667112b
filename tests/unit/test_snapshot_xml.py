"""snapshot_xml: the snapshot vmm asks for, what it refuses, and the facts it reads back."""

from __future__ import annotations

from lxml import etree

from ansible_collections.vmm.cloud.plugins.module_utils.snapshot_xml import (
    build_snapshot_xml,
    by_creation,
    parse_snapshot_xml,
    snapshot_blockers,
)

SYSTEM = {"target": "vda", "path": "/d/web1.qcow2", "format": "qcow2", "device": "disk", "readonly": False}
SEED = {"target": "vdb", "path": "/d/web1-seed.iso", "format": "raw", "device": "disk", "readonly": True}
DATA_RAW = {"target": "vdc", "path": "/d/web1-data.img", "format": "raw", "device": "disk", "readonly": False}


def test_internal_snapshot_of_the_writable_disks_with_or_without_memory():
    root = etree.fromstring(build_snapshot_xml("s1", [SYSTEM, SEED], memory=True, description="a <b> & 'c'"))
    assert root.findtext("name") == "s1" and root.findtext("description") == "a <b> & 'c'"
    assert root.find("memory").get("snapshot") == "internal"
    assert [(d.get("name"), d.get("snapshot")) for d in root.iterfind("disks/disk")] == [("vda", "internal"),
                                                                                         ("vdb", "no")]
    disk_only = etree.fromstring(build_snapshot_xml("s2", [SYSTEM], memory=False))
    assert disk_only.find("memory").get("snapshot") == "no" and disk_only.find("description") is None


def test_a_writable_disk_that_is_not_qcow2_blocks_the_snapshot():
    assert snapshot_blockers([SYSTEM, SEED]) == []  # a read-only raw seed is left out, not a blocker
    [reason] = snapshot_blockers([SYSTEM, SEED, DATA_RAW])
    assert reason.startswith("disk vdc (/d/web1-data.img) is raw") and "qcow2" in reason


def test_facts_of_a_snapshot_as_libvirt_describes_it():
    xml = """<domainsnapshot><name>s2</name><description>before</description><state>running</state>
      <parent><name>s1</name></parent><creationTime>1795880237</creationTime><memory snapshot='internal'/>
      <disks><disk name='vda' snapshot='internal'/></disks><domain type='qemu'><name>web1</name></domain>
    </domainsnapshot>"""
    assert parse_snapshot_xml(xml) == {"name": "s2", "description": "before", "created": "2026-11-28T15:37:17Z",
                                       "state": "running", "memory": True, "parent": "s1"}
    stopped = parse_snapshot_xml("<domainsnapshot><name>s0</name><state>shutoff</state>"
                                 "<creationTime>1795880000</creationTime><memory snapshot='no'/></domainsnapshot>")
    assert stopped["memory"] is False and stopped["parent"] is None
    assert [s["name"] for s in by_creation([parse_snapshot_xml(xml), stopped])] == ["s0", "s2"]
