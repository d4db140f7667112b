"""Client data stays data: the extra variables file of a job, with every string marked `!unsafe`.

Ansible renders a trusted string that holds `{{ ... }}` or `{% ... %}` as a
template wherever a play uses it, and extra variables read from a JSON file are
trusted, so a password like `{{ lookup('pipe', 'id') }}` would run on the
controller. Ansible never renders a string read under an `!unsafe` tag (nor anything built
from it), however deep it sits in a dict or a list. A job's variables are written
as one mapping with that tag, so every string in them, mapping keys included, is
inert: the playbook sees the exact characters the client sent.
"""

from __future__ import annotations

import yaml

UNSAFE_TAG = "!unsafe"


class _InertDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


class _Unsafe(dict):
    """The root mapping, written with the `!unsafe` tag."""


# A tag on the root, not on each string: Ansible's `!unsafe` re-resolves a tagged scalar as if it were plain
# (`!unsafe "null"` would read back as None), while the strings inside a tagged mapping keep their own types.
_InertDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_mapping(UNSAFE_TAG, dict(value)))


def inert_yaml(variables):
    """The YAML text of `variables` for `ansible-playbook -e @FILE`: one mapping tagged `!unsafe`."""
    return yaml.dump(_Unsafe(variables), Dumper=_InertDumper, default_flow_style=False, allow_unicode=False,
                     sort_keys=False, width=1 << 30)


def unencodable(value, path="vars"):
    """The path of the first string in `value` that is not valid Unicode text (a lone surrogate), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        items = ((f"{path}.{key}", key, item) for key, item in value.items())
        for item_path, key, item in items:
            found = unencodable(key, item_path) or unencodable(item, item_path)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unencodable(item, f"{path}[{index}]")
            if found:
                return found
    return None
