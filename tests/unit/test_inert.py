"""api/inert.py: the extra variables file keeps every string as data, as Ansible itself reads it."""

from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

from api.inert import inert_yaml, unencodable

TEMPLATES = ["{{ lookup('pipe', 'id') }}", "{% if true %}x{% endif %}", "{# c #}", "{{ 7 * 7 }}", "{%raw%}",
             "${{ x }}", "!unsafe {{ x }}", '"{{ x }}"', "'{{ x }}'", "{{", "}}", "{% raw %}{{ x }}{% endraw %}"]
AWKWARD = ["", " ", "a\nb", "tab\there", "quote\"back\\slash", "\x00nul", "\x7f\x85\u2028\u2029", "é😀",
           "- not a list", "key: value", "null", "true", "0x10", "1e3", "~", "&anchor", "*alias", "? q", "%directive"]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _load_as_extra_vars(tmp_path, variables):
    """What `ansible-playbook -e @FILE` makes of the file (extra variables are trusted templates)."""
    path = tmp_path / "extravars"
    path.write_text(inert_yaml(variables))
    return DataLoader().load_from_file(str(path), trusted_as_template=True)


@pytest.mark.parametrize("text", TEMPLATES + AWKWARD)
def test_every_string_reads_back_exactly_and_untrusted(tmp_path, text):
    cloud_init = {"password": text, "ssh_authorized_keys": [f"ssh-ed25519 AAAA {text}"],
                  "user_data": {text or "k": [text, {"deep": [text]}], "n": 3}}
    variables = {"vm_name": "vm1", "vm_cloud_init": cloud_init, "vm_memory": 128, "vm_ha": True, "vm_none": None,
                 text or "top": text}
    loaded = _load_as_extra_vars(tmp_path, variables)
    assert loaded == variables
    strings = list(_strings(loaded))
    assert len(strings) == len(list(_strings(variables)))
    assert not [s for s in strings if is_trusted_as_template(s)]
    assert loaded["vm_memory"] == 128 and loaded["vm_ha"] is True and loaded["vm_none"] is None


def test_the_plain_json_file_would_have_been_a_template(tmp_path):
    """The reason for the tags: the same value written as JSON is trusted, so Ansible would render it."""
    path = tmp_path / "extravars"
    path.write_text('{"vm_password": "{{ lookup(\'pipe\', \'id\') }}"}')
    loaded = DataLoader().load_from_file(str(path), trusted_as_template=True)
    assert is_trusted_as_template(loaded["vm_password"])


@pytest.mark.parametrize(("value", "path"), [
    ({"a": "ok", "b": ["x", "\ud800"]}, "vars.b[1]"),
    ({"cloud_init": {"user_data": {"\udfff": 1}}}, "vars.cloud_init.user_data.\udfff"),
    ({"a": "é😀", "b": [1, None, {"c": "ok"}]}, None),
])
def test_unencodable_names_the_first_broken_string(value, path):
    assert unencodable(value) == path
