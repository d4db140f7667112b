"""backup_store: the layout of a backup store, whole backups only, retention, progress, refused paths."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.backup_store import BackupStore, check_store, new_backup_name
from ansible_collections.vmm.cloud.plugins.module_utils.backup_xml import build_pull_backup_xml, nbd_uri
from ansible_collections.vmm.cloud.plugins.module_utils.errors import NotFoundError, ValidationError


def make(store, vm, name, created):
    partial = store.start(vm, name)
    with open(f"{partial}/vda.qcow2", "wb") as handle:
        handle.write(b"data")
    store.finish(vm, name, {"name": name, "vm": vm, "created": created,
                            "disks": [{"file": "vda.qcow2", "sha256": "ab" * 32}]})


def test_only_whole_backups_are_listed_oldest_first_and_retention_names_the_oldest(tmp_path):
    store = BackupStore(str(tmp_path / "store"))
    make(store, "web1", "b2", "2026-11-28T02:00:00Z")
    make(store, "web1", "b1", "2026-11-27T02:00:00Z")
    store.start("web1", "b3")  # being written: not a backup yet
    store.write_progress("web1", "b3", {"disk": "vda", "percent": 42.0})
    assert [b["name"] for b in store.list("web1")] == ["b1", "b2"]
    assert store.progress("web1")["b3"]["percent"] == 42.0
    assert store.beyond("web1", 1) == ["b1"] and store.beyond("web1", 5) == []
    folder = tmp_path / "store" / "web1" / "b2"
    assert (folder / "SHA256SUMS").read_text() == f"{'ab' * 32}  vda.qcow2\n"
    assert json.loads((folder / "backup.json").read_text())["name"] == "b2"
    store.end("web1", "b3")
    assert store.progress("web1") == {} and sorted(p.name for p in (tmp_path / "store" / "web1").iterdir()) == [
        "b1", "b2"]
    store.delete("web1", "b1")
    with pytest.raises(NotFoundError, match="it has: b2"):
        store.require("web1", "b1")
    assert store.list("db1") == []


@pytest.mark.parametrize("path", ["relative", "/tmp/../etc", "", "/x/\x00"])
def test_a_store_is_an_absolute_path_without_dot_dot(path):
    with pytest.raises(ValidationError) as raised:
        check_store(path)
    assert raised.value.field == "store"


def test_names_and_the_pull_backup_request():
    assert new_backup_name(datetime.datetime(2026, 11, 28, 2, 0, 5)) == "20261128T020005Z"
    with pytest.raises(ValidationError):
        BackupStore("/srv/b").path("web1", "../x")
    disks = [{"target": "vda"}, {"target": "vdb"}]
    xml = build_pull_backup_xml("/run/vmm/backup/u.sock", disks, {"vda": "/d/web1.qcow2.backup-scratch"})
    assert "<server transport=\"unix\" socket=\"/run/vmm/backup/u.sock\"/>" in xml
    assert "<disk name=\"vda\" backup=\"yes\" type=\"file\"><scratch file=\"/d/web1.qcow2.backup-scratch\"/>" in xml
    assert "<disk name=\"vdb\" backup=\"no\"/>" in xml
    assert nbd_uri("/s.sock", "vda") == "nbd+unix:///vda?socket=/s.sock"
