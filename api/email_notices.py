"""Email notices: users (and administrators) subscribe an address to kinds of events (notify.py), sent over SMTP.

A user's subscription gets the events of their own jobs and VMs; an administrator's, every event of its kinds
(node.down only theirs). The server is the environment's: VMM_API_SMTP_HOST (none: nothing is sent, and each
delivery fails saying so), _PORT, _FROM, _USER and _PASSWORD (login), _STARTTLS (1: STARTTLS before the login).
"""

from __future__ import annotations

import json
import re
import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request

from . import validation
from .auth import require_user
from .directory_store import email_subscriptions
from .errors import ApiError, bad_request
from .store import utcnow
from .webhooks import ADMIN_EVENTS, MAX_ID, delivery_json, events_field, time_text

FIELDS = ("address", "events")
ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")
SMTP_TIMEOUT = 10


def subscription_body(body, user):
    """The subscription a POST asks for, checked: the fields named in errors."""
    validation.object_body(body, FIELDS, "address and events")
    address = body.get("address")
    if not isinstance(address, str) or len(address) > 254 or not ADDRESS_RE.match(address):
        raise bad_request("address", "must be one email address (name@domain)")
    admin = user["role"] == "admin"
    events = events_field(body)
    if not admin and set(events) & set(ADMIN_EVENTS):
        raise ApiError(403, f"events: {', '.join(ADMIN_EVENTS)} is for administrators.", field="events")
    return {"user": user["name"], "admin": admin, "address": address, "events": events, "created": utcnow()}


class SubscriptionStore:
    def __init__(self, store):
        self.store = store

    def add(self, row):
        with self.store.engine.begin() as conn:
            return conn.execute(email_subscriptions.insert().values(**row)).inserted_primary_key[0]

    def get(self, subscription_id):
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(email_subscriptions).where(
                email_subscriptions.c.id == subscription_id)).first()
        return dict(row._mapping) if row else None

    def list(self, user=None):
        query = sa.select(email_subscriptions).order_by(email_subscriptions.c.id)
        if user is not None:
            query = query.where(email_subscriptions.c.user == user)
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def delete(self, subscription_id):
        with self.store.engine.begin() as conn:
            conn.execute(email_subscriptions.delete().where(email_subscriptions.c.id == subscription_id))


def _subject(event, data):
    if "job" in data and isinstance(data["job"], dict):
        job = data["job"]
        return f"[vmm] {event}: job {job.get('id')} {job.get('operation')} {job.get('status')}"
    if "vm" in data:
        return f"[vmm] {event}: VM {data['vm']}"
    return f"[vmm] {event}: node {data.get('node')}"


def message(settings, subscription, delivery):
    body = json.loads(delivery["body"])
    mail = EmailMessage()
    mail["Subject"] = _subject(body["event"], body["data"])
    mail["From"] = settings.smtp_from
    mail["To"] = subscription["address"]
    mail["X-Vmm-Event"] = body["event"]
    mail["X-Vmm-Delivery"] = str(delivery["id"])
    mail.set_content(f"{mail['Subject'][6:]}\n\n{json.dumps(body, indent=2, sort_keys=True)}\n")
    return mail


def send_mail(settings, subscription, delivery):
    """(SMTP status or None, error or None, delivered) of one mail of the delivery to the subscription."""
    if not settings.smtp_host:
        return None, "no SMTP server is set (VMM_API_SMTP_HOST)", False
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message(settings, subscription, delivery))
        return 250, None, True
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code, str(exc.smtp_error)[:1024], False
    except (smtplib.SMTPException, OSError) as exc:
        return None, str(exc)[:1024], False


def subscription_json(subscription):
    return {"id": subscription["id"], "user": subscription["user"], "admin": subscription["admin"],
            "address": subscription["address"], "events": subscription["events"],
            "created": time_text(subscription["created"])}


bp = Blueprint("api_v1_email_subscriptions", __name__, url_prefix="/api/v1/email_subscriptions")
bp.before_request(require_user)


def _subscriptions():
    return SubscriptionStore(current_app.extensions["vmm"].store)


def _found(subscription_id):
    found = _subscriptions().get(subscription_id) if subscription_id <= MAX_ID else None
    if found is None or (g.user["role"] != "admin" and found["user"] != g.user["name"]):
        raise ApiError(404, f"No email subscription {subscription_id} is yours to see.")
    return found


@bp.get("")
def subscription_list():
    found = _subscriptions().list(None if g.user["role"] == "admin" else g.user["name"])
    return jsonify({"count": len(found), "results": [subscription_json(s) for s in found]})


@bp.post("")
def subscription_create():
    row = subscription_body(validation.json_body(request), g.user)
    return jsonify(subscription_json(_subscriptions().get(_subscriptions().add(row)))), 201


@bp.get("/<int:subscription_id>")
def subscription_detail(subscription_id):
    return jsonify(subscription_json(_found(subscription_id)))


@bp.delete("/<int:subscription_id>")
def subscription_delete(subscription_id):
    found = _found(subscription_id)
    current_app.extensions["vmm"].notifier.deliveries.forget("subscription", found["id"])
    _subscriptions().delete(found["id"])
    return "", 204


@bp.get("/<int:subscription_id>/deliveries")
def subscription_deliveries(subscription_id):
    found = current_app.extensions["vmm"].notifier.deliveries.of("subscription", _found(subscription_id)["id"])
    return jsonify({"count": len(found), "results": [delivery_json(d) for d in found]})
