"""schemathesis against the served OpenAPI document: every check, as an admin and as a user.

The server runs no jobs (workers=0): generated requests queue jobs, and none of
them may touch a real VM. A followed stdout gives up after 2 s here.
Token revocation is fuzzed on its own, with a token of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ST = Path(sys.executable).parent / "st"
# every warning but missing test data: /vms/{name} answers 404 to names of VMs that do not exist, as it should
WARNINGS = ["--warnings", "missing_auth,base_url_mismatch,validation_mismatch,missing_deserializer,"
                          "unused_openapi_auth,unsupported_regex,method_not_allowed"]


REVOKE = "/api/v1/tokens/{token_id}"


@pytest.mark.parametrize("role", ["admin", "user"])
def test_schemathesis_finds_nothing(servers, sqlite_url, role, tmp_path):
    # no cap on queued jobs: generated jobs pile up (nothing runs them), and a 429 would hide what follows
    server = servers(sqlite_url, workers=0, follow_timeout=2, max_queued_per_token=0).start()
    # paths for administrators (or, for a quota, the user named): a user only ever gets 403 there, which
    # schemathesis warns about
    only_admins = [] if role == "admin" else ["--exclude-path", "/metrics", "--exclude-name", "POST /api/v1/tokens",
                                              "--exclude-path", "/api/v1/nodes", "--exclude-path", "/api/v1/pools",
                                              "--exclude-path", "/api/v1/users/{name}/quota",
                                              "--exclude-path", "/api/v1/webhooks",
                                              "--exclude-path", "/api/v1/webhooks/{webhook_id}",
                                              "--exclude-path", "/api/v1/webhooks/{webhook_id}/deliveries"]
    # revoking may hit the very token the run speaks with (ids are small, and listed): every other route
    # with one token, then revocation alone with another
    _fuzz(server.token(f"fuzz-{role}", role), server, ["--exclude-path", REVOKE, *only_admins], tmp_path / "all")
    _fuzz(server.token(f"fuzz-{role}-revoke", role), server, ["--include-path", REVOKE], tmp_path / "revoke")


def _fuzz(token, server, selection, report_dir):
    result = subprocess.run([str(ST), "run", f"{server.url}/api/v1/openapi.json", "--checks", "all",
                             "--max-examples", "15", *selection, *WARNINGS,
                             "-H", f"Authorization: Bearer {token}",
                             "--report", "junit", "--report-dir", str(report_dir)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
