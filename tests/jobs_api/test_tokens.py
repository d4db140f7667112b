"""Tokens listed, created, revoked and expired (over HTTP and the command line), the cap on queued
jobs per token, and databases made before these columns existed."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from api import store as store_module
from api.store import utcnow

from .conftest import Client, make_token

TOKEN_FIELDS = {"id", "user", "role", "created", "expires", "revoked", "last_used", "max_queued", "active"}


def _when(text):
    return datetime.fromisoformat(text.removesuffix("Z"))


def test_admins_create_list_and_revoke_tokens_users_their_own(clients):
    app, admin, alice, _ = clients
    created = admin.post("/api/v1/tokens", {"user": "carol", "role": "user", "expires_in": 2, "max_queued": 5})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert set(body) == TOKEN_FIELDS | {"token"} and body["token"].startswith("vmm_")
    assert body["user"] == "carol" and body["role"] == "user" and body["max_queued"] == 5 and body["active"]
    assert abs(_when(body["expires"]) - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)
    carol = Client(app, body["token"])
    assert carol.get("/api/v1/me").get_json() == {"name": "carol", "role": "user"}

    listing = admin.get("/api/v1/tokens").get_json()
    assert listing["count"] == 4 and [row["user"] for row in listing["results"]] == ["admin", "alice", "bob", "carol"]
    assert all(set(row) == TOKEN_FIELDS for row in listing["results"])
    assert body["token"] not in admin.get("/api/v1/tokens").get_data(as_text=True)
    assert listing["results"][3]["last_used"] is not None  # carol's /me
    assert listing["results"][0]["max_queued"] == 20  # the default of Settings.max_queued_per_token
    assert admin.get("/api/v1/tokens?user=carol").get_json()["count"] == 1

    # a user sees, and may revoke, their own tokens only; creating tokens is for admins
    mine = carol.get("/api/v1/tokens").get_json()
    assert [row["id"] for row in mine["results"]] == [body["id"]]
    assert carol.get("/api/v1/tokens?user=alice").get_json()["count"] == 0
    alices = listing["results"][1]["id"]
    assert carol.delete(f"/api/v1/tokens/{alices}").status_code == 404
    assert alice.get("/api/v1/me").status_code == 200
    refused = carol.post("/api/v1/tokens", {"user": "carol", "role": "admin"})
    assert refused.status_code == 403
    assert carol.get("/api/v1/me").get_json()["role"] == "user"

    assert carol.delete(f"/api/v1/tokens/{body['id']}").status_code == 204
    gone = carol.get("/api/v1/me")
    assert gone.status_code == 401 and gone.headers["WWW-Authenticate"].startswith("Bearer")
    revoked = admin.get("/api/v1/tokens?user=carol").get_json()["results"][0]
    assert revoked["revoked"] is not None and revoked["active"] is False
    assert admin.delete(f"/api/v1/tokens/{body['id']}").status_code == 204  # again: still revoked, same time
    assert admin.get("/api/v1/tokens?user=carol").get_json()["results"][0]["revoked"] == revoked["revoked"]
    assert admin.delete("/api/v1/tokens/99999").status_code == 404

    # an admin revokes anyone's token, their own included
    assert admin.delete(f"/api/v1/tokens/{alices}").status_code == 204
    assert alice.get("/api/v1/me").status_code == 401
    assert admin.delete(f"/api/v1/tokens/{listing['results'][0]['id']}").status_code == 204
    assert admin.get("/api/v1/me").status_code == 401


def test_a_new_token_for_an_existing_user_has_their_role(clients):
    app, admin, _, _ = clients
    kept = admin.post("/api/v1/tokens", {"user": "alice", "role": "user"}).get_json()
    assert kept["role"] == "user" and kept["expires"] is None and kept["max_queued"] == 20
    assert Client(app, kept["token"]).get("/api/v1/me").get_json() == {"name": "alice", "role": "user"}
    # no role change on the side: not even an admin demoting themselves by accident
    other = admin.post("/api/v1/tokens", {"user": "admin", "role": "user"})
    assert other.status_code == 409 and other.get_json()["field"] == "role", other.get_json()
    assert admin.get("/api/v1/me").get_json() == {"name": "admin", "role": "admin"}
    assert admin.get("/api/v1/tokens?user=alice").get_json()["count"] == 2


def test_an_expired_token_is_refused_at_once(database, make_app):
    app = make_app(database, workers=0)
    store = app.extensions["vmm"].store
    user = store.ensure_user("dave", "user")
    _, token = store.issue_token(user["id"], expires=utcnow() + timedelta(seconds=2))
    client = Client(app, token)
    assert client.get("/api/v1/me").status_code == 200
    time.sleep(2.2)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/jobs").status_code == 401
    row = store.token_rows(user="dave")[1][0]
    assert row["revoked"] is None and row["expires"] < utcnow()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "user"),
    ({"user": "a/b", "role": "user"}, "user"),
    ({"user": "erin"}, "role"),
    ({"user": "erin", "role": "root"}, "role"),
    ({"user": "erin", "role": "user", "expires_in": 0}, "expires_in"),
    ({"user": "erin", "role": "user", "expires_in": "2"}, "expires_in"),
    ({"user": "erin", "role": "user", "expires_in": True}, "expires_in"),
    ({"user": "erin", "role": "user", "expires_in": 1.5}, "expires_in"),
    ({"user": "erin", "role": "user", "expires_in": 3651}, "expires_in"),
    ({"user": "erin", "role": "user", "max_queued": 0}, "max_queued"),
    ({"user": "erin", "role": "user", "token": "vmm_mine"}, "token"),
    (["erin"], "body"),
])
def test_bad_token_requests_name_the_field(make_app, sqlite_url, body, field):
    app = make_app(sqlite_url, workers=0)
    admin = Client(app, make_token(app, "admin", "admin"))
    response = admin.post("/api/v1/tokens", body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field and field in response.get_json()["detail"], response.get_json()
    assert admin.get("/api/v1/tokens").get_json()["count"] == 1  # nothing made


def test_bodies_over_the_limit_are_413_on_every_route(make_app, sqlite_url):
    app = make_app(sqlite_url, workers=0, max_body=1000)
    admin = Client(app, make_token(app, "admin", "admin"))
    big = {"user": "x" * 2000, "role": "user"}
    for method, path in (("post", "/api/v1/tokens"), ("delete", "/api/v1/tokens/1"), ("post", "/api/v1/jobs"),
                         ("post", "/api/v1/jobs/1/cancel")):
        response = getattr(admin.http, method)(path, headers=admin.headers, json=big)
        assert response.status_code == 413, (method, path, response.get_json())
        assert response.get_json()["detail"] == "The request body is larger than 1000 bytes."
    assert admin.get("/api/v1/me").status_code == 200  # the admin's token (id 1) was not revoked
    form = admin.http.post("/api/v1/tokens", headers=admin.headers, data={"user": "x"})
    assert form.status_code == 415


def test_the_command_line_creates_lists_and_revokes_tokens(servers, database):
    server = servers(database, workers=0).start()
    token = server.token("frank", "user", "--expires-in", "3", "--max-queued", "7")
    other = server.token("gina", "admin")
    listing = server.cli("token", "list").stdout
    lines = listing.splitlines()
    assert lines[0].split() == ["ID", "USER", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LAST", "USED", "MAX",
                                "QUEUED"]
    frank = lines[1].split()
    assert frank[:3] == ["1", "frank", "user"] and frank[-1] == "7" and frank[4] != "-" and frank[5:7] == ["-", "-"]
    assert lines[2].split()[:3] == ["2", "gina", "admin"] and lines[2].split()[4] == "-"
    assert token not in listing and other not in listing
    assert len(server.cli("token", "list", "--user", "gina").stdout.splitlines()) == 2

    status, me = _get(server, token, "/api/v1/me")
    assert status == 200 and me == {"name": "frank", "role": "user"}
    assert server.cli("token", "list", "--user", "frank").stdout.splitlines()[1].split()[6] != "-"  # last used
    revoked = server.cli("token", "revoke", "1")
    assert revoked.returncode == 0 and "token 1 revoked" in revoked.stderr
    assert _get(server, token, "/api/v1/me")[0] == 401  # the running server sees it at once
    assert _get(server, other, "/api/v1/me")[0] == 200
    assert server.cli("token", "list", "--user", "frank").stdout.splitlines()[1].split()[5] != "-"
    missing = server.cli("token", "revoke", "99", check=False)
    assert missing.returncode == 1 and "no token 99" in missing.stderr
    bad = server.cli("token", "create", "--user", "h", "--role", "user", "--expires-in", "0", check=False)
    assert bad.returncode == 2 and "--expires-in" in bad.stderr


def _get(server, token, path):
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_queued_jobs_are_capped_per_token(database, make_app):
    app = make_app(database, workers=0, max_queued_per_token=3)
    admin = Client(app, make_token(app, "admin", "admin"))
    queued = [admin.submit("vm_start", {"name": f"it-api-cap{n}"}) for n in range(3)]
    over = admin.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": "it-api-cap3"}})
    assert over.status_code == 429 and over.headers["Retry-After"] == "30"
    assert "3 jobs queued" in over.get_json()["detail"] and "max_queued" in over.get_json()["detail"]
    assert admin.post(f"/api/v1/jobs/{queued[0]['id']}/relaunch").status_code == 429  # a relaunch is a job too
    # the cap is per token: another token of the same user, and one an admin gave a higher cap
    second = Client(app, make_token(app, "admin", "admin"))
    assert second.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": "it-api-cap3"}}).status_code == 202
    roomy = admin.post("/api/v1/tokens", {"user": "admin", "role": "admin", "max_queued": 5}).get_json()
    roomy = Client(app, roomy["token"])
    assert [roomy.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": f"it-api-r{n}"}}).status_code
            for n in range(6)] == [202] * 5 + [429]
    # a job that is no longer queued leaves room
    assert admin.post(f"/api/v1/jobs/{queued[0]['id']}/cancel").status_code == 202
    assert admin.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": "it-api-cap4"}}).status_code == 202
    with app.extensions["vmm"].store.engine.connect() as conn:
        by_token = dict(conn.execute(sa.text("SELECT token_id, count(*) FROM jobs GROUP BY token_id")).all())
    assert by_token == {1: 4, 2: 1, 3: 5}


def test_the_cap_holds_under_concurrent_submissions(database, make_app):
    apps = [make_app(database, workers=0) for _ in range(2 if database.startswith("postgresql") else 1)]
    store = apps[0].extensions["vmm"].store
    token = store.create_token(store.ensure_user("admin", "admin")["id"], max_queued=30)
    statuses = []

    def submit(thread):
        client = Client(apps[thread % len(apps)], token)
        for n in range(10):
            response = client.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": f"it-api-k{thread}-{n}"}})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] * 30 + [429] * 50
    assert Client(apps[0], token).get("/api/v1/jobs").get_json()["count"] == 30


def _old_metadata():
    """The tables as the first release made them: without the columns added since."""
    added = {"tokens": {"expires", "revoked", "last_used", "max_queued"}, "jobs": {"token_id"}}
    old = sa.MetaData()
    for table in store_module.metadata.sorted_tables:
        columns = [column._copy() for column in table.columns if column.name not in added.get(table.name, ())]
        sa.Table(table.name, old, *columns)
    return old


def test_a_database_made_before_the_new_columns_keeps_working(database, make_app):
    engine = sa.create_engine(database)
    old = _old_metadata()
    old.create_all(engine)
    with engine.begin() as conn:
        # ids from the tables' own sequences (1 each): an explicit id would not move PostgreSQL's
        conn.execute(old.tables["users"].insert().values(name="old", role="admin", created=utcnow()))
        conn.execute(old.tables["tokens"].insert().values(user_id=1, created=utcnow(),
                                                          digest=store_module.token_digest("vmm_old-token")))
        conn.execute(old.tables["jobs"].insert().values(
            operation="vm_start", status="successful", vars={"name": "it-api-old"}, target="vm:it-api-old",
            launched_by="old", timeout=900, created=utcnow(), job_explanation="", cancel_requested=False))
    assert "expires" not in {column["name"] for column in sa.inspect(engine).get_columns("tokens")}
    engine.dispose()

    app = make_app(database, workers=0)
    app.extensions["vmm"].store.create_schema()  # a second start changes nothing
    client = Client(app, "vmm_old-token")
    assert client.get("/api/v1/me").get_json() == {"name": "old", "role": "admin"}
    assert client.get("/api/v1/jobs/1").get_json()["status"] == "successful"
    listed = client.get("/api/v1/tokens").get_json()["results"]
    assert [(row["id"], row["expires"], row["revoked"]) for row in listed] == [(1, None, None)]
    assert client.submit("vm_start", {"name": "it-api-old"})["id"] == 2
    engine = sa.create_engine(database)
    assert {"expires", "revoked", "last_used", "max_queued"} <= {
        column["name"] for column in sa.inspect(engine).get_columns("tokens")}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, token_id FROM jobs ORDER BY id")).all() == [(1, None), (2, 1)]
    engine.dispose()
