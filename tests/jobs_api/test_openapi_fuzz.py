"""schemathesis against the served OpenAPI document: every check, as an admin and as a user.

The server runs no jobs (workers=0): generated requests queue jobs, and none of
them may touch a real VM. A followed stdout gives up after 2 s here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ST = Path(sys.executable).parent / "st"


@pytest.mark.parametrize("role", ["admin", "user"])
def test_schemathesis_finds_nothing(servers, sqlite_url, role, tmp_path):
    server = servers(sqlite_url, workers=0, follow_timeout=2).start()
    token = server.token(f"fuzz-{role}", role)
    # paths for administrators (or, for a quota, the user named): a user only ever gets 403 there
    only_admins = [] if role == "admin" else ["--exclude-path", "/metrics", "--exclude-path", "/api/v1/nodes",
                                              "--exclude-path", "/api/v1/users/{name}/quota"]
    # every warning but missing test data: /vms/{name} answers 404 to names of VMs that do not exist, as it should
    warnings = ["--warnings", "missing_auth,base_url_mismatch,validation_mismatch,missing_deserializer,"
                              "unused_openapi_auth,unsupported_regex,method_not_allowed"]
    result = subprocess.run([str(ST), "run", f"{server.url}/api/v1/openapi.json", "--checks", "all",
                             "--max-examples", "15", *only_admins, *warnings,
                             "-H", f"Authorization: Bearer {token}",
                             "--report", "junit", "--report-dir", str(tmp_path / "report")],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
