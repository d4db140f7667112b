"""Webhooks: URLs an administrator registered for kinds of events (notify.py), POSTed each event as JSON, signed.

Headers: `X-Vmm-Event`, `X-Vmm-Delivery` and `X-Vmm-Signature: sha256=<HMAC-SHA256 of the body with the webhook's
secret>`. A 2xx answer within SEND_TIMEOUT seconds delivers it. The secret is made by the API (or given), shown
once, and kept encrypted with the key of the job secrets (secretbox.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import urllib.error
import urllib.request

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request

from . import validation
from .auth import require_admin
from .directory_store import webhooks
from .errors import ApiError, bad_request
from .store import utcnow

EVENTS = ("job.finished", "job.failed", "vm.created", "vm.deleted", "node.down")
ADMIN_EVENTS = ("node.down",)  # never sent to a user's own email subscription
FIELDS = ("url", "events", "secret", "description")
# an http(s) URL: optional user info, a host name or IPv4 address (no IPv6 literal: use a name), an optional port,
# then printable ASCII
URL_RE = re.compile(r"^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=-]+@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$")
MAX_ID = 2 ** 31 - 1
SEND_TIMEOUT = 5  # seconds a receiver has to answer
SECRET_RE = re.compile(r"^[ -~]+$")


def time_text(value):
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def events_field(body, allowed=EVENTS):
    events = body.get("events")
    if not isinstance(events, list) or not events or any(event not in allowed for event in events):
        raise bad_request("events", f"must be a list of one or more of {', '.join(allowed)}")
    return sorted(set(events))


def webhook_body(body, user):
    """The webhook a POST asks for, checked: the fields named in errors."""
    validation.object_body(body, FIELDS, "url and events")
    url = body.get("url")
    if not isinstance(url, str) or len(url) > 2048 or not URL_RE.match(url):
        raise bad_request("url", "must be an http:// or https:// URL with a host, in printable ASCII")
    events = events_field(body)
    secret = body.get("secret")
    if "secret" in body and (not isinstance(secret, str) or not 16 <= len(secret) <= 256
                             or not SECRET_RE.match(secret)):
        raise bad_request("secret", "must be 16 to 256 printable ASCII characters (leave it out and one is made)")
    description = body.get("description")
    if "description" in body and (not isinstance(description, str) or len(description) > 1024):
        raise bad_request("description", "must be text of at most 1024 characters")
    return {"url": url, "events": events, "secret": secret or secrets.token_urlsafe(32),
            "description": description, "created": utcnow(), "created_by": user["name"]}


class WebhookStore:
    """The webhooks' SQL, over the store's engine; secrets sealed with the API's key."""

    def __init__(self, store, box):
        self.store = store
        self.box = box

    def add(self, row):
        sealed = dict(row, secret=self.box.fernet.encrypt(row["secret"].encode()).decode())
        with self.store.engine.begin() as conn:
            return conn.execute(webhooks.insert().values(**sealed)).inserted_primary_key[0]

    def get(self, webhook_id):
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return dict(row._mapping) if row else None

    def list(self):
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(webhooks).order_by(webhooks.c.id))]

    def delete(self, webhook_id):
        with self.store.engine.begin() as conn:
            conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))

    def secret(self, hook):
        return self.box.fernet.decrypt(hook["secret"].encode()).decode()


def post(hook, secret, delivery):
    """(HTTP status or None, error or None, delivered) of one POST of the delivery to the webhook."""
    body = delivery["body"].encode()
    headers = {"Content-Type": "application/json", "User-Agent": "vmm-webhooks/1",
               "X-Vmm-Event": delivery["event"], "X-Vmm-Delivery": str(delivery["id"]),
               "X-Vmm-Signature": signature(secret, body)}
    try:
        with urllib.request.urlopen(urllib.request.Request(hook["url"], data=body, headers=headers, method="POST"),
                                    timeout=SEND_TIMEOUT) as answer:
            return answer.status, None, 200 <= answer.status < 300
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}", False
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:1024], False


def delivery_json(delivery):
    return {"id": delivery["id"], "webhook": delivery["webhook"], "subscription": delivery["subscription"],
            "event": delivery["event"], "status": delivery["status"], "attempts": delivery["attempts"],
            "last_code": delivery["last_code"], "last_error": delivery["last_error"],
            "created": time_text(delivery["created"]), "delivered": time_text(delivery["delivered"]),
            "next_attempt": time_text(delivery["next_attempt"]),
            "body": json.loads(delivery["body"]) if delivery["body"] else None}


def webhook_json(hook, secret=None):
    found = {"id": hook["id"], "url": hook["url"], "events": hook["events"], "description": hook["description"],
             "created": time_text(hook["created"]), "created_by": hook["created_by"]}
    if secret is not None:  # once, when it is made
        found["secret"] = secret
    return found


bp = Blueprint("api_v1_webhooks", __name__, url_prefix="/api/v1/webhooks")
bp.before_request(require_admin)


def _notifier():
    return current_app.extensions["vmm"].notifier


def _found(webhook_id):
    hook = _notifier().hooks.get(webhook_id) if webhook_id <= MAX_ID else None
    if hook is None:
        raise ApiError(404, f"No webhook {webhook_id}.")
    return hook


@bp.get("")
def webhook_list():
    found = _notifier().hooks.list()
    return jsonify({"count": len(found), "results": [webhook_json(hook) for hook in found]})


@bp.post("")
def webhook_create():
    row = webhook_body(validation.json_body(request), g.user)
    webhook_id = _notifier().hooks.add(row)
    return jsonify(webhook_json(_notifier().hooks.get(webhook_id), secret=row["secret"])), 201


@bp.get("/<int:webhook_id>")
def webhook_detail(webhook_id):
    return jsonify(webhook_json(_found(webhook_id)))


@bp.delete("/<int:webhook_id>")
def webhook_delete(webhook_id):
    hook = _found(webhook_id)
    _notifier().deliveries.forget("webhook", hook["id"])
    _notifier().hooks.delete(hook["id"])
    return "", 204


@bp.get("/<int:webhook_id>/deliveries")
def webhook_deliveries(webhook_id):
    found = _notifier().deliveries.of("webhook", _found(webhook_id)["id"])
    return jsonify({"count": len(found), "results": [delivery_json(d) for d in found]})
