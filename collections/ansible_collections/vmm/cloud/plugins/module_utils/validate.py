# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks; every error names its field and what was wrong."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                 "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def check_name(value, field="name"):
    """A VM, image, pool or owner name: safe as a file name, in XML and on a command line."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or ".." in value:
        raise ValidationError(f"{field}: must be 1-64 characters of letters, digits, '.', '_' or '-', starting with "
                              f"a letter or digit, without '..' (got {value!r})", field=field)
    return value


def check_hostname(value, field="cloud_init.hostname"):
    labels = value.split(".") if isinstance(value, str) else []
    if not labels or len(value) > 253 or not all(HOST_LABEL_RE.fullmatch(label) for label in labels):
        raise ValidationError(f"{field}: not a valid host name (got {value!r})", field=field)
    return value


def check_positive_int(value, field, minimum=1, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum else "")
        raise ValidationError(f"{field}: must be a whole number {bounds} (got {value!r})", field=field)
    return value


def check_mac(value, field):
    mac = value.lower() if isinstance(value, str) else ""
    if not MAC_RE.fullmatch(mac):
        raise ValidationError(f"{field}: not a MAC address like 52:54:00:12:34:56 (got {value!r})", field=field)
    if int(mac[:2], 16) & 1:
        raise ValidationError(f"{field}: {value} is a multicast address", field=field)
    return mac


def check_listen_address(value, field):
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        raise ValidationError(f"{field}: not an IPv4 or IPv6 address (got {value!r})", field=field) from None


def check_ssh_key(value, field):
    if not isinstance(value, str) or "\n" in value or "\r" in value or "\0" in value \
            or value.split(" ", 1)[0] not in SSH_KEY_TYPES or len(value.split()) < 2:
        raise ValidationError(f"{field}: not a single-line OpenSSH public key", field=field)
    return value


def check_path_component(value, field):
    if not isinstance(value, str) or not value or "/" in value or "\0" in value or value in (".", "..") \
            or ".." in value:
        raise ValidationError(f"{field}: must be a plain file name (got {value!r})", field=field)
    return value
