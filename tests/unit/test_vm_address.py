"""vmm.cloud.vm_address's request: every error names its field."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.errors import ValidationError
from ansible_collections.vmm.cloud.plugins.module_utils.vm_address import _request


@pytest.mark.parametrize(("params", "field"), [
    ({"name": "../x"}, "name"),
    ({"name": "vps7", "state": "gone"}, "state"),
    ({"name": "vps7", "state": "absent"}, "address"),
    ({"name": "vps7", "version": 5}, "version"),
    ({"name": "vps7", "nic": -1}, "nic"),
    ({"name": "vps7", "nic": 16}, "nic"),
    ({"name": "vps7", "count": 0, "address": "auto"}, None),  # 0 means the default, 1
    ({"name": "vps7", "count": 65}, "count"),
])
def test_bad_requests_name_the_field(params, field):
    if field is None:
        assert _request(params)["count"] == 1
        return
    with pytest.raises(ValidationError) as err:
        _request(params)
    assert err.value.field == field and err.value.msg.startswith(f"{field}:")


def test_defaults():
    assert _request({"name": "vps7"}) == {"name": "vps7", "address": "auto", "version": 4, "state": "present",
                                          "nic": 0, "count": 1}
