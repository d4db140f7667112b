# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception family of vmm; only a module's main() turns it into fail_json."""

from __future__ import annotations


class VmmError(Exception):
    """Base error; `field` names the offending option when there is one."""

    def __init__(self, msg, field=None):
        super().__init__(msg)
        self.msg = msg
        self.field = field

    def __str__(self):
        return self.msg


class ValidationError(VmmError):
    """Bad input."""


class NotFoundError(VmmError):
    """Something named does not exist."""


class LibvirtConnectionError(VmmError):
    """libvirtd cannot be reached on the given URI."""


class ConflictError(VmmError):
    """The request clashes with the state of the node (image in use, shrink, ...)."""
