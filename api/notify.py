"""Notifications: what happened (a job that ended, a VM created or deleted, a node that stopped answering), sent to
the webhooks (webhooks.py) and email subscriptions (email_notices.py) that asked for its kind.

An event becomes one delivery row per receiver, in the same database as the jobs. A sender thread (in the processes
that run jobs) claims each due delivery with one conditional UPDATE, so several API processes send it once, and
sends it. A webhook's 2xx answer or an accepted mail delivers it; anything else is tried again after 2, 4, 8 ...
seconds (at most `webhook_max_backoff`), up to `webhook_attempts` times, and the last status and error are kept.
A user's email subscription gets only the events of their own jobs and VMs; node events go to administrators only.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import sqlalchemy as sa

from .directory_store import deliveries, email_subscriptions, webhooks
from .email_notices import send_mail
from .schedule import Periodic
from .secretbox import SecretBox
from .store import utcnow
from .webhooks import ADMIN_EVENTS, WebhookStore, post, time_text

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a claimed delivery is tried again after this if its sender died


class DeliveryStore:
    """The deliveries' SQL."""

    def __init__(self, store):
        self.store = store

    def enqueue(self, event, data, owner):
        """One pending delivery per webhook and per email subscription that gets `event`; returns their ids."""
        now = utcnow()
        with self.store.engine.connect() as conn:
            hooks = [row.id for row in conn.execute(sa.select(webhooks.c.id, webhooks.c.events))
                     if event in row.events]
            subscriptions = [row.id for row in conn.execute(sa.select(email_subscriptions))
                             if event in row.events and (row.admin or (owner is not None and row.user == owner
                                                                       and event not in ADMIN_EVENTS))]
        made = []
        with self.store.engine.begin() as conn:
            for column, ids in (("webhook", hooks), ("subscription", subscriptions)):
                for receiver in ids:
                    delivery_id = conn.execute(deliveries.insert().values(
                        **{column: receiver}, event=event, body="", status="pending", attempts=0, next_attempt=now,
                        created=now)).inserted_primary_key[0]
                    body = json.dumps({"id": delivery_id, "event": event, "created": time_text(now), "data": data},
                                      sort_keys=True)
                    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(body=body))
                    made.append(delivery_id)
        return made

    def of(self, column, receiver, limit=200):
        query = (sa.select(deliveries).where(deliveries.c[column] == receiver)
                 .order_by(deliveries.c.id.desc()).limit(limit))
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def forget(self, column, receiver):
        with self.store.engine.begin() as conn:
            conn.execute(deliveries.delete().where(deliveries.c[column] == receiver))

    def due(self, now):
        query = sa.select(deliveries).where(deliveries.c.status == "pending", deliveries.c.next_attempt <= now)
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query.order_by(deliveries.c.id).limit(100))]

    def claim(self, delivery, now):
        """Take a due delivery for one attempt; False when another process took it first."""
        with self.store.engine.begin() as conn:
            return conn.execute(deliveries.update().where(
                deliveries.c.id == delivery["id"], deliveries.c.attempts == delivery["attempts"],
                deliveries.c.status == "pending").values(attempts=delivery["attempts"] + 1,
                                                         next_attempt=now + LEASE)).rowcount == 1

    def attempted(self, delivery_id, **values):
        with self.store.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


class Notifier(Periodic):
    """Queues the events' deliveries, and every `webhook_interval` seconds sends those that are due."""

    def __init__(self, settings, store):
        interval = settings.webhook_interval if settings.workers > 0 else 0
        super().__init__("vmm-notifications", interval, self.send_due)
        self.settings = settings
        self.store = store
        self.hooks = WebhookStore(store, SecretBox.from_settings(settings))
        self.deliveries = DeliveryStore(store)

    # events

    def emit(self, event, data, owner=None):
        try:
            self.deliveries.enqueue(event, data, owner)
        except Exception:  # what happened stands; its notice is lost, and logged
            log.exception("queueing the deliveries of %s", event)

    def job_ended(self, job, status):
        summary = {key: job.get(key) for key in ("id", "operation", "owner", "launched_by", "target")}
        summary["vm"] = (job.get("vars") or {}).get("name") if job.get("operation", "").startswith("vm_") else None
        summary["status"] = status
        owner = job.get("owner")
        self.emit("job.finished" if status == "successful" else "job.failed", {"job": summary}, owner)
        if status == "successful" and job.get("operation") in ("vm_create", "vm_delete"):
            kind = "vm.created" if job["operation"] == "vm_create" else "vm.deleted"
            self.emit(kind, {"vm": summary["vm"], "owner": owner, "job": job.get("id")}, owner)

    def nodes_down(self, names):
        for name in names:
            self.emit("node.down", {"node": name})

    # sending

    def send_due(self):
        now = utcnow()
        for delivery in self.deliveries.due(now):
            if self.deliveries.claim(delivery, now):
                self.send(delivery)

    def send(self, delivery):
        if delivery["webhook"] is not None:
            hook = self.hooks.get(delivery["webhook"])
            if hook is None:
                return
            code, error, ok = post(hook, self.hooks.secret(hook), delivery)
        else:
            with self.store.engine.connect() as conn:
                row = conn.execute(sa.select(email_subscriptions).where(
                    email_subscriptions.c.id == delivery["subscription"])).first()
            if row is None:
                return
            code, error, ok = send_mail(self.settings, dict(row._mapping), delivery)
        attempts = delivery["attempts"] + 1
        if ok:
            self.deliveries.attempted(delivery["id"], status="delivered", last_code=code, last_error=None,
                                      delivered=utcnow(), next_attempt=None)
        elif attempts >= self.settings.webhook_attempts:
            self.deliveries.attempted(delivery["id"], status="failed", last_code=code, last_error=error,
                                      next_attempt=None)
        else:
            wait = min(self.settings.webhook_backoff * 2 ** (attempts - 1), self.settings.webhook_max_backoff)
            self.deliveries.attempted(delivery["id"], last_code=code, last_error=error,
                                      next_attempt=utcnow() + timedelta(seconds=wait))

