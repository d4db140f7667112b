"""Secret options of jobs' vars: encrypted in the store, decrypted only into the runner's extravars."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from api.secretbox import SEALED, load_or_make_key

from .conftest import Client, make_token


def _raw_vars(store, job_id):
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT CAST(vars AS TEXT) FROM jobs WHERE id = :id"), {"id": job_id}).scalar()


def _open(key_file, sealed):
    return json.loads(Fernet(key_file.read_bytes().strip()).decrypt(sealed[SEALED].encode()))


def test_secret_options_are_encrypted_in_the_store(database, make_app):
    app = make_app(database, workers=0)
    admin = Client(app, make_token(app, "admin", "admin"))
    password, vnc = f"pw-{uuid.uuid4().hex}", uuid.uuid4().hex[:8]
    job = admin.submit("vm_create", {"name": "it-api-sealed", "image": "img",
                                     "cloud_init": {"password": password, "hostname": "h1"},
                                     "console": {"password": vnc, "listen": "127.0.0.1"}})
    relaunched = admin.post(f"/api/v1/jobs/{job['id']}/relaunch").get_json()
    key_file = Path(app.extensions["vmm"].settings.data_dir) / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    store = app.extensions["vmm"].store
    for job_id in (job["id"], relaunched["id"]):
        raw = _raw_vars(store, job_id)
        assert password not in raw and vnc not in raw, raw
        stored = json.loads(raw)
        assert stored["cloud_init"]["hostname"] == "h1" and stored["console"]["listen"] == "127.0.0.1"
        assert _open(key_file, stored["cloud_init"]["password"]) == password
        assert _open(key_file, stored["console"]["password"]) == vnc
    # sealed once: a relaunch keeps the stored value as it is
    assert json.loads(_raw_vars(store, relaunched["id"])) == json.loads(_raw_vars(store, job["id"]))
    assert admin.job(relaunched["id"])["vars"]["cloud_init"]["password"] == "$encrypted$"
    if database.startswith("sqlite"):
        db = Path(store.url.database)
        for path in (db, db.with_name(db.name + "-wal")):
            assert password.encode() not in path.read_bytes(), path


def test_the_key_is_made_once_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "secret.key"
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_make_key(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys) == 8
    assert Fernet(keys[0])  # a valid key
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left
    path.chmod(0o644)
    assert load_or_make_key(path) == keys[0] and path.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def api_log(tmp_path):
    """Everything the API logs, SQL statements with their parameters included, in a file."""
    path = tmp_path / "api.log"
    handler = logging.FileHandler(path)
    root, engine = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    levels = root.level, engine.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    engine.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    handler.close()
    root.setLevel(levels[0])
    engine.setLevel(levels[1])


def _everything_stored(store, database):
    """The database's content as bytes: the SQLite files, or every row of every table."""
    if database.startswith("sqlite"):
        db = Path(store.url.database)
        return b"".join(path.read_bytes() for path in db.parent.glob(db.name + "*"))
    with store.engine.connect() as conn:
        tables = [name for name in sa.inspect(conn).get_table_names()]
        return "".join(str(conn.execute(sa.text(f"SELECT * FROM {name}")).all()) for name in tables).encode()


def test_a_secret_reaches_the_playbook_and_nowhere_else(database, make_app, test_operations, secret_test_var,
                                                        api_log, tmp_path):
    app = make_app(database, workers=1)
    admin = Client(app, make_token(app, "admin", "admin"))
    secret = f"s3cret-{uuid.uuid4().hex}"
    traces = tmp_path / "traces"
    traces.mkdir()
    first = admin.wait(admin.submit("test_sleep", {"name": "it-api-secret", "marker": "first",
                                                   "trace_dir": str(traces), "secret": secret})["id"])
    assert first["status"] == "successful", first
    relaunched = admin.post(f"/api/v1/jobs/{first['id']}/relaunch")
    again = admin.wait(relaunched.get_json()["id"])
    assert again["status"] == "successful", again
    # the playbook had the secret both times
    assert sorted(path.read_text() for path in traces.iterdir()) == [secret, secret]

    shown = [admin.get(f"/api/v1/jobs/{job['id']}{part}").get_data(as_text=True)
             for job in (first, again) for part in ("", "/events?page_size=200", "/stdout")]
    assert "TASK [Write the secret into the trace]" in shown[2]
    assert all(secret not in text for text in shown)
    assert first["vars"]["secret"] == again["vars"]["secret"] == "$encrypted$"

    data_dir = Path(app.extensions["vmm"].settings.data_dir)
    job_files = [path for path in (data_dir / "jobs").rglob("*") if path.is_file()]
    assert any(path.name == "stdout" for path in job_files)
    assert not any(path.name == "extravars" for path in job_files)  # deleted after each run
    assert [str(path) for path in job_files if secret.encode() in path.read_bytes()] == []
    assert secret.encode() not in _everything_stored(app.extensions["vmm"].store, database)
    log = api_log.read_text()
    assert "INSERT INTO jobs" in log  # the log did see the jobs' vars go into the store
    assert secret not in log


def test_a_process_with_another_key_says_so(database, make_app, test_operations, secret_test_var):
    submitter = make_app(database, workers=0)
    admin = Client(submitter, make_token(submitter, "admin", "admin"))
    job = admin.submit("test_sleep", {"name": "it-api-otherkey", "secret": "x"})
    make_app(database, workers=1)  # another data directory: another key
    failed = admin.wait(job["id"])
    assert failed["status"] == "error" and failed["job_explanation"].startswith(
        "vars.secret: cannot be decrypted with this API's secret key"), failed
