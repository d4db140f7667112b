"""The create's rollback: newest step first, stopping where an undo step fails."""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.changes import Rollback


def _step(done, name, fails=False):
    def undo():
        if fails:
            raise OSError(f"{name} failed")
        done.append(name)
    return undo


def test_rollback_undoes_newest_first():
    done = []
    rollback = Rollback()
    for name in ("disk", "seed", "undefine", "destroy"):
        rollback.add(_step(done, name))
    assert rollback.run() is True
    assert done == ["destroy", "undefine", "seed", "disk"]


def test_rollback_keeps_the_files_of_a_domain_it_could_not_undefine():
    done = []
    rollback = Rollback()
    rollback.add(_step(done, "disk"))
    rollback.add(_step(done, "seed"))
    rollback.add(_step(done, "undefine", fails=True))  # libvirtd gone
    rollback.add(_step(done, "destroy"))
    assert rollback.run() is False
    assert done == ["destroy"]
