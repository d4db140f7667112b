"""The migration journal: what a failed migration left on its destination, kept on the controller."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.migration import Journal


def test_journal_keeps_the_volumes_until_none_is_left(tmp_path):
    journal = Journal("web1", str(tmp_path / "migrations"))
    assert journal.read() is None
    journal.write("qemu+ssh://root@node2/system", ["/var/lib/vmm/disks/web1.qcow2"])
    assert Journal("web1", str(tmp_path / "migrations")).read() == {
        "dest": "qemu+ssh://root@node2/system", "volumes": ["/var/lib/vmm/disks/web1.qcow2"]}
    assert sorted(p.name for p in (tmp_path / "migrations").iterdir()) == ["web1.json"]
    journal.write("qemu+ssh://root@node2/system", [])
    assert journal.read() is None
    journal.remove()  # nothing to remove: no error
