"""Notifications: webhooks (events POSTed to a local receiver, signed with the webhook's secret, retried with
backoff, logged; for administrators) and email notices (to a local SMTP sink; users get their own events only)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from api.directory import vm_row
from api.store import utcnow
from integration.test_vm import wait_until

from .conftest import Client, free_port, make_token

PAYLOAD = "{{ lookup('pipe', 'id') }}"


def owned(app, name, owner):
    """A VM `name` of `owner` in the directory, so that its jobs (test_sleep's) are theirs."""
    app.extensions["vmm"].store.record_vm(vm_row({"name": name, "owner": owner, "state": "running"}, "node1",
                                                 utcnow()))


class Receiver:
    """An HTTP server on 127.0.0.1 keeping every POST; /flaky answers 500 to its first `failures` requests."""

    def __init__(self, failures=2):
        self.requests = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                flaky = self.path == "/flaky" and receiver.failures > 0
                receiver.failures -= flaky
                self.send_response(500 if flaky else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path, event=None):
        return [r for r in self.requests
                if r["path"] == path and (event is None or r["headers"]["X-Vmm-Event"] == event)]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


def test_events_are_posted_signed_retried_and_logged(make_app, sqlite_url, test_operations, receiver):
    app = make_app(sqlite_url, webhook_interval=0.1, webhook_backoff=0.2, webhook_attempts=3)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice = Client(app, make_token(app, "alice", "user"))
    made = admin.post("/api/v1/webhooks", {"url": f"{receiver.url}/hook", "events": ["job.finished", "job.failed"],
                                           "description": PAYLOAD})
    assert made.status_code == 201, made.get_json()
    hook = made.get_json()
    secret = hook["secret"]
    assert len(secret) >= 32 and "secret" not in admin.get(f"/api/v1/webhooks/{hook['id']}").get_json()
    flaky = admin.post("/api/v1/webhooks", {"url": f"{receiver.url}/flaky", "events": ["job.finished"],
                                            "secret": "a-secret-of-our-own"}).get_json()
    dead = admin.post("/api/v1/webhooks", {"url": f"http://127.0.0.1:{free_port()}/gone",
                                           "events": ["job.finished"]}).get_json()

    owned(app, "hooked", "alice")
    ok = alice.wait(alice.submit("test_sleep", {"name": "hooked", "seconds": 0})["id"])
    failed = alice.wait(alice.submit("test_sleep", {"name": "hooked", "fail": True})["id"])
    assert (ok["status"], failed["status"]) == ("successful", "failed")
    assert wait_until(lambda: len(receiver.posts("/hook")) == 2), receiver.requests
    for post in receiver.posts("/hook"):  # the receiver checks the signature with the secret it was shown
        expected = "sha256=" + hmac.new(secret.encode(), post["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(post["headers"]["X-Vmm-Signature"], expected), post
    bodies = {json.loads(p["body"])["event"]: json.loads(p["body"]) for p in receiver.posts("/hook")}
    assert bodies["job.finished"]["data"]["job"] == {
        "id": ok["id"], "operation": "test_sleep", "owner": "alice", "launched_by": "alice", "target": "vm:hooked",
        "vm": None, "status": "successful"}
    assert bodies["job.failed"]["data"]["job"]["id"] == failed["id"]

    # /flaky answers 500 twice: delivered on the third attempt, each attempt logged
    assert wait_until(lambda: admin.get(f"/api/v1/webhooks/{flaky['id']}/deliveries").get_json()["results"][0][
        "status"] == "delivered")
    delivery = admin.get(f"/api/v1/webhooks/{flaky['id']}/deliveries").get_json()["results"][0]
    assert (delivery["attempts"], delivery["last_code"]) == (3, 204), delivery
    assert len(receiver.posts("/flaky")) == 3
    post = receiver.posts("/flaky")[-1]
    assert post["headers"]["X-Vmm-Signature"] == "sha256=" + hmac.new(
        b"a-secret-of-our-own", post["body"], hashlib.sha256).hexdigest()
    # nobody answers: given up after webhook_attempts, the error kept
    assert wait_until(lambda: admin.get(f"/api/v1/webhooks/{dead['id']}/deliveries").get_json()["results"][0][
        "status"] == "failed")
    gone = admin.get(f"/api/v1/webhooks/{dead['id']}/deliveries").get_json()["results"][0]
    assert gone["attempts"] == 3 and gone["last_code"] is None and "refused" in gone["last_error"].lower(), gone

    listed = admin.get("/api/v1/webhooks").get_json()
    assert listed["count"] == 3 and listed["results"][0]["description"] == PAYLOAD  # text, kept as it came
    assert admin.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert admin.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_webhooks_are_for_administrators_and_bad_input_names_the_field(make_app, sqlite_url, receiver):
    app = make_app(sqlite_url)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice = Client(app, make_token(app, "alice", "user"))
    assert alice.get("/api/v1/webhooks").status_code == 403
    assert alice.post("/api/v1/webhooks", {"url": receiver.url, "events": ["job.failed"]}).status_code == 403
    for body, field in (({"url": "ftp://x/y", "events": ["job.failed"]}, "url"),
                        ({"url": "http://", "events": ["job.failed"]}, "url"),
                        ({"url": "http://a b/", "events": ["job.failed"]}, "url"),
                        ({"url": receiver.url, "events": []}, "events"),
                        ({"url": receiver.url, "events": ["job.*"]}, "events"),
                        ({"url": receiver.url, "events": ["job.failed"], "secret": "short"}, "secret"),
                        ({"url": receiver.url, "events": ["job.failed"], "command": "id"}, "command")):
        answer = admin.post("/api/v1/webhooks", body)
        assert answer.status_code == 400 and answer.get_json()["field"] == field, (body, answer.get_json())
    assert admin.get("/api/v1/webhooks").get_json()["count"] == 0


def test_vm_and_node_events(make_app, sqlite_url, receiver):
    app = make_app(sqlite_url, webhook_interval=0.1)
    admin = Client(app, make_token(app, "admin", "admin"))
    admin.post("/api/v1/webhooks", {"url": f"{receiver.url}/all", "events": ["vm.created", "vm.deleted",
                                                                             "node.down"]})
    services = app.extensions["vmm"]
    for operation in ("vm_create", "vm_delete"):
        services.notifier.job_ended({"id": 7, "operation": operation, "owner": "alice", "launched_by": "alice",
                                     "target": "vm:web1", "vars": {"name": "web1"}}, "successful")
    job = {"id": 8, "operation": "node_info", "vars": {}, "started": None}
    services.directory.record_job(job, "successful", {"nodes": {"node1": {"libvirtd_alive": True}}})
    services.directory.record_job(job, "successful", {"nodes": {"node1": {"unreachable": True}}})
    services.directory.record_job(job, "successful", {"nodes": {"node1": {"unreachable": True}}})  # still down
    assert wait_until(lambda: len(receiver.posts("/all")) == 3), receiver.requests
    data = {json.loads(p["body"])["event"]: json.loads(p["body"])["data"] for p in receiver.posts("/all")}
    assert data["vm.created"] == {"vm": "web1", "owner": "alice", "job": 7}
    assert data["vm.deleted"]["vm"] == "web1" and data["node.down"] == {"node": "node1"}


class Sink:
    """aiosmtpd's handler: keeps every mail (envelope recipients and the message text)."""

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mails.append({"to": list(envelope.rcpt_tos), "text": envelope.content.decode()})
        return "250 OK"

    def to(self, address):
        return [mail for mail in self.mails if mail["to"] == [address]]


@pytest.fixture
def smtp_sink():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


def test_email_notices_reach_each_user_with_their_own_events_only(make_app, sqlite_url, test_operations, smtp_sink):
    sink, port = smtp_sink
    app = make_app(sqlite_url, webhook_interval=0.1, smtp_host="127.0.0.1", smtp_port=port,
                   smtp_from="vmm@example.org")
    admin, alice, bob = (Client(app, make_token(app, name, role))
                         for name, role in (("admin", "admin"), ("alice", "user"), ("bob", "user")))
    mine = alice.post("/api/v1/email_subscriptions", {"address": "alice@example.org",
                                                      "events": ["job.finished", "job.failed"]})
    assert mine.status_code == 201 and mine.get_json()["admin"] is False, mine.get_json()
    assert bob.post("/api/v1/email_subscriptions", {"address": "bob@example.org", "events": ["job.finished"]}
                    ).status_code == 201
    assert admin.post("/api/v1/email_subscriptions", {"address": "ops@example.org",
                                                      "events": ["job.failed", "node.down"]}).status_code == 201
    admins_only = alice.post("/api/v1/email_subscriptions", {"address": "alice@example.org", "events": ["node.down"]})
    assert admins_only.status_code == 403 and admins_only.get_json()["field"] == "events", admins_only.get_json()
    for body, field in (({"address": "a@example.org\r\nBcc: x@example.org", "events": ["job.failed"]}, "address"),
                        ({"address": "<a>@example.org", "events": ["job.failed"]}, "address"),
                        ({"address": "alice@example.org", "events": ["job.failed"], "smtp": "x"}, "smtp")):
        answer = alice.post("/api/v1/email_subscriptions", body)
        assert answer.status_code == 400 and answer.get_json()["field"] == field, (body, answer.get_json())
    assert bob.get(f"/api/v1/email_subscriptions/{mine.get_json()['id']}").status_code == 404
    assert [s["address"] for s in bob.get("/api/v1/email_subscriptions").get_json()["results"]] == ["bob@example.org"]
    assert admin.get("/api/v1/email_subscriptions").get_json()["count"] == 3

    owned(app, "mailed", "alice")
    ok = alice.wait(alice.submit("test_sleep", {"name": "mailed", "seconds": 0})["id"])
    failed = alice.wait(alice.submit("test_sleep", {"name": "mailed", "fail": True})["id"])
    app.extensions["vmm"].directory.record_job({"id": 0, "operation": "node_info", "vars": {}}, "successful",
                                               {"nodes": {"node1": {"libvirtd_alive": True}}})
    app.extensions["vmm"].directory.record_job({"id": 0, "operation": "node_info", "vars": {}}, "successful",
                                               {"nodes": {"node1": {"unreachable": True}}})
    assert wait_until(lambda: len(sink.to("alice@example.org")) == 2 and len(sink.to("ops@example.org")) == 2), \
        sink.mails
    subjects = sorted(line for mail in sink.to("alice@example.org") for line in mail["text"].splitlines()
                      if line.startswith("Subject:"))
    assert subjects == [f"Subject: [vmm] job.failed: job {failed['id']} test_sleep failed",
                        f"Subject: [vmm] job.finished: job {ok['id']} test_sleep successful"], subjects
    assert "From: vmm@example.org" in sink.to("alice@example.org")[0]["text"]
    assert sorted("node.down" in mail["text"] for mail in sink.to("ops@example.org")) == [False, True]
    assert sink.to("bob@example.org") == []  # alice's jobs are not bob's business
    delivered = alice.get(f"/api/v1/email_subscriptions/{mine.get_json()['id']}/deliveries").get_json()["results"]
    assert [d["status"] for d in delivered] == ["delivered", "delivered"], delivered
    assert alice.delete(f"/api/v1/email_subscriptions/{mine.get_json()['id']}").status_code == 204
