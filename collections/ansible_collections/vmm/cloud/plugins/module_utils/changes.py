# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules' services share to change a node: the change log that decides check mode in one place,
and the rollback of a create that failed part-way. Standard library only."""

from __future__ import annotations

import os


def remove_file(path):
    if os.path.lexists(path):
        os.remove(path)


class ChangeLog:
    """What a run changed (or would change, in check mode)."""

    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.actions = []

    def apply(self, action, func, *args):
        self.actions.append(action)
        if not self.check_mode:
            return func(*args)
        return None


class Rollback:
    """Undo steps of a create, run newest first if the create fails.

    Undoing stops at the first step that fails: what was made before it is what
    the later steps rest on (a defined domain names its disk and seed), so a
    domain libvirtd could not undefine keeps its files and stays a whole VM.
    """

    def __init__(self):
        self._steps = []

    def add(self, func, *args):
        self._steps.append((func, args))

    def run(self):
        """True when everything was undone."""
        for func, args in reversed(self._steps):
            try:
                func(*args)
            except Exception:  # noqa: BLE001 - whatever it was, the rest must stay
                return False
        return True
