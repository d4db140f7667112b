"""Input checks by tables: what passes, and the field every refusal names."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils import validate
from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError


@pytest.mark.parametrize("name", ["web1", "a", "A-b_c.d", "x" * 64, "9lives", "db.example"])
def test_good_names(name):
    assert validate.check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a/b", "/etc", "..", "a..b", "../x", ".hidden", "-x", "a b", "a'b", 'a"b', "a<b", "a>b", "a&b", "a;b",
     "a|b", "$(id)", "`id`", "a\nb", "a\0b", "x" * 65, None, 5, "ünï"],
)
def test_bad_names(name):
    with pytest.raises(ValidationError) as err:
        validate.check_name(name, field="owner")
    assert err.value.field == "owner" and err.value.msg.startswith("owner: ")


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (validate.check_hostname, "web1", "web1"),
        (validate.check_hostname, "web-1.example.org", "web-1.example.org"),
        (validate.check_mac, "52:54:00:AB:cd:01", "52:54:00:ab:cd:01"),
        (validate.check_listen_address, "0.0.0.0", "0.0.0.0"),
        (validate.check_listen_address, "::1", "::1"),
        (validate.check_ssh_key, "ssh-ed25519 AAAAC3Nza a@b", "ssh-ed25519 AAAAC3Nza a@b"),
        (validate.check_path_component, "disk.qcow2", "disk.qcow2"),
    ],
)
def test_good_values(check, value, expected):
    assert check(value, field="f") == expected


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validate.check_hostname, "-web"),
        (validate.check_hostname, "web_1"),
        (validate.check_hostname, "a" * 64),
        (validate.check_hostname, ""),
        (validate.check_mac, "52:54:00:ab:cd"),
        (validate.check_mac, "01:00:5e:00:00:01"),
        (validate.check_mac, "52-54-00-ab-cd-01"),
        (validate.check_listen_address, "localhost"),
        (validate.check_listen_address, "1.2.3.4; rm"),
        (validate.check_ssh_key, "ssh-ed25519"),
        (validate.check_ssh_key, "ssh-ed25519 AAAA\nssh-rsa BBBB"),
        (validate.check_ssh_key, "rsa AAAA"),
        (validate.check_path_component, "../x"),
        (validate.check_path_component, "a/b"),
    ],
)
def test_bad_values(check, value):
    with pytest.raises(ValidationError) as err:
        check(value, field="f")
    assert err.value.field == "f" and err.value.msg.startswith("f: ")


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "ok"),
    [(1, 1, None, True), (0, 1, None, False), (16, 16, None, True), (15, 16, None, False), (513, 1, 512, False),
     (True, 1, None, False), ("2", 1, None, False)],
)
def test_positive_int(value, minimum, maximum, ok):
    if ok:
        assert validate.check_positive_int(value, "memory", minimum, maximum) == value
    else:
        with pytest.raises(ValidationError, match="^memory: "):
            validate.check_positive_int(value, "memory", minimum, maximum)
