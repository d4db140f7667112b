"""Backup policies: back up a VM, the VMs of a cluster, or every VM, every `every` seconds, keeping `keep`.

The API runs them itself: a scheduler thread (in the processes that run jobs) submits a `vm_backup` job for each
VM of a policy that is due, launched by `scheduler` and owned by the VM's owner, unless a job on that VM is still
queued or running; the policy's next time is then claimed with one conditional UPDATE, so several API processes
sharing a database submit it once. Users keep policies for their own VMs; administrators for anything.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request

from . import validation
from .auth import require_user
from .directory_store import policies, vms
from .errors import ApiError, bad_request
from .operations import OPERATIONS
from .schedule import SCHEDULER, Periodic
from .store import utcnow

MIN_EVERY = 60  # seconds
MAX_ID = 2 ** 31 - 1
FIELDS = ("vm", "cluster", "every", "keep", "start")


def policy_body(body, user, store):
    """The policy a POST asks for, checked: the fields named in errors."""
    validation.object_body(body, FIELDS, "vm or cluster, every and keep")
    for key in ("vm", "cluster"):
        value = body.get(key)
        if key in body and (not isinstance(value, str) or len(value) > 64
                            or not validation.NAME_RE.search(value)):  # as the schema's pattern reads
            raise bad_request(key, "must be a name of letters, digits, '.', '_' and '-'")
    if "vm" in body and "cluster" in body:
        raise bad_request("cluster", "give vm or cluster, not both")
    for key, low, high in (("every", MIN_EVERY, 366 * 86400), ("keep", 1, 1000), ("start", 0, 366 * 86400)):
        value = body.get(key, 0 if key == "start" else None)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad_request(key, f"must be a whole number from {low} to {high}")
    if user["role"] != "admin":
        if not body.get("vm"):
            raise ApiError(403, "vm: users keep backup policies of their own VMs; a cluster's is an administrator's.",
                           field="vm")
        vm = store.get_vm(body["vm"])
        if vm is None or vm["owner"] != user["name"]:
            raise ApiError(403, "You do not have permission to act on this VM.")
    now = utcnow()
    return {"vm": body.get("vm"), "cluster": body.get("cluster"), "every": body["every"], "keep": body["keep"],
            "owner": user["name"], "created": now, "next_run": now + timedelta(seconds=body.get("start", 0)),
            "last_run": None, "last_jobs": None}


class PolicyStore:
    """The policies' SQL, over the store's engines."""

    def __init__(self, store):
        self.store = store

    def add(self, row):
        with self.store.engine.begin() as conn:
            return conn.execute(policies.insert().values(**row)).inserted_primary_key[0]

    def get(self, policy_id):
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(policies).where(policies.c.id == policy_id)).first()
        return dict(row._mapping) if row else None

    def list(self, owner=None):
        query = sa.select(policies).order_by(policies.c.id)
        if owner is not None:
            query = query.where(policies.c.owner == owner)
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def delete(self, policy_id):
        with self.store.engine.begin() as conn:
            conn.execute(policies.delete().where(policies.c.id == policy_id))

    def due(self, now):
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(policies).where(policies.c.next_run <= now))]

    def claim(self, policy, now):
        """Move a due policy's next run past `now`; False when another process did it first."""
        step = timedelta(seconds=policy["every"])
        following = policy["next_run"] + step
        while following <= now:  # runs missed while the API was down are not made up for
            following += step
        with self.store.engine.begin() as conn:
            return conn.execute(policies.update().where(policies.c.id == policy["id"],
                                                        policies.c.next_run == policy["next_run"])
                                .values(next_run=following, last_run=now)).rowcount == 1

    def ran(self, policy_id, job_ids):
        with self.store.engine.begin() as conn:
            conn.execute(policies.update().where(policies.c.id == policy_id).values(last_jobs=job_ids))

    def targets(self, policy):
        """(name, owner) of the VMs the policy backs up, from the directory."""
        query = sa.select(vms.c.name, vms.c.owner).order_by(vms.c.name)
        if policy["vm"]:
            query = query.where(vms.c.name == policy["vm"])
        elif policy["cluster"]:
            query = query.where(vms.c.cluster == policy["cluster"])
        with self.store.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


class BackupSchedule(Periodic):
    """Every `backup_interval` seconds, submits the vm_backup jobs of the policies that are due."""

    def __init__(self, settings, jobs, store):
        interval = settings.backup_interval if settings.workers > 0 else 0
        super().__init__("vmm-backup-schedule", interval, self.run_due)
        self.jobs = jobs
        self.store = store
        self.policies = PolicyStore(store)

    def run_due(self):
        now = utcnow()
        operation = OPERATIONS["vm_backup"]
        for policy in self.policies.due(now):
            if not self.policies.claim(policy, now):
                continue
            submitted = []
            for name, owner in self.policies.targets(policy):
                variables = {"name": name, "keep": policy["keep"]}
                if self.store.has_active_job(operation.target(variables, None)):
                    continue  # its last backup (or another job on it) has not ended
                submitted.append(self.jobs.submit(operation, variables, None, SCHEDULER, owner)["id"])
            self.policies.ran(policy["id"], submitted)


def _time(value):
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def policy_json(policy):
    return {"id": policy["id"], "vm": policy["vm"], "cluster": policy["cluster"], "every": policy["every"],
            "keep": policy["keep"], "owner": policy["owner"], "created": _time(policy["created"]),
            "next_run": _time(policy["next_run"]), "last_run": _time(policy["last_run"]),
            "last_jobs": policy["last_jobs"] or []}


bp = Blueprint("api_v1_backup_policies", __name__, url_prefix="/api/v1/backup_policies")
bp.before_request(require_user)


def _policies():
    return PolicyStore(current_app.extensions["vmm"].store)


def _found(policy_id):
    """The policy `policy_id` when the caller may see it; 404 otherwise (an id past the column's range too)."""
    policy = _policies().get(policy_id) if policy_id <= MAX_ID else None
    if policy is None or (g.user["role"] != "admin" and policy["owner"] != g.user["name"]):
        raise ApiError(404, f"No backup policy {policy_id} is yours to see.")
    return policy


@bp.get("")
def policy_list():
    found = _policies().list(None if g.user["role"] == "admin" else g.user["name"])
    return jsonify({"count": len(found), "results": [policy_json(p) for p in found]})


@bp.post("")
def policy_create():
    row = policy_body(validation.json_body(request), g.user, current_app.extensions["vmm"].store)
    policy_id = _policies().add(row)
    return jsonify(policy_json(_policies().get(policy_id))), 201


@bp.get("/<int:policy_id>")
def policy_detail(policy_id):
    return jsonify(policy_json(_found(policy_id)))


@bp.delete("/<int:policy_id>")
def policy_delete(policy_id):
    _policies().delete(_found(policy_id)["id"])
    return "", 204
