"""The store, the jobs' directories and the key are readable by the API's user alone (a real API process)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

from api.config import ROOT


def _http(server, token, method, path, body=None):
    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_api_keeps_its_files_to_itself(servers, tmp_path):
    # what an earlier, laxer start may have left: readable by all
    data_dir = tmp_path / "data"
    (data_dir / "jobs").mkdir(parents=True)
    db = tmp_path / "db" / "vmm.db"
    db.parent.mkdir()
    db.touch()
    for path in (data_dir, data_dir / "jobs", db):
        path.chmod(0o755 if path.is_dir() else 0o644)

    server = servers(f"sqlite:///{db}", data_dir=data_dir, workers=1).start()
    token = server.token("admin", "admin")
    job = _http(server, token, "POST", "/api/v1/jobs", {"operation": "node_info"})
    deadline = time.monotonic() + 120
    while (job := _http(server, token, "GET", f"/api/v1/jobs/{job['id']}"))["status"] not in (
            "successful", "failed", "error", "canceled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "successful", job

    paths = [data_dir, *data_dir.rglob("*"), *db.parent.iterdir()]
    assert any(path.name == "job_events" for path in paths) and any(path.name == "vmm.db-wal" for path in paths)
    assert (data_dir / "secret.key").exists()
    lax = {str(path): oct(path.lstat().st_mode & 0o777) for path in paths
           if not path.is_symlink() and path.lstat().st_mode & 0o077}
    assert lax == {}


def test_the_api_log_is_made_private_by_the_scripts(tmp_path):
    log = tmp_path / "log" / "api.log"
    log.parent.mkdir()
    log.write_text("from before\n")
    log.chmod(0o644)
    fresh = tmp_path / "new" / "api.log"
    for path in (log, fresh):
        subprocess.run(["bash", "-c", '. scripts/lib.sh && private_log "$1"', "-", str(path)], cwd=ROOT,
                       check=True)
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert log.read_text() == "from before\n"
