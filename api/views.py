"""Routes of /api/v1: thin; the job service, the access policy and the store do the work."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context, url_for

from . import validation
from .auth import require_user
from .errors import ApiError
from .operations import OPERATIONS
from .schemas import redact
from .store import ACTIVE, FINISHED, utcnow

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
bp.before_request(require_user)


def services():
    return current_app.extensions["vmm"]


def _time(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def job_json(job, blocked_by=None):
    elapsed = job["elapsed"]
    if elapsed is None:
        elapsed = round((utcnow() - job["started"]).total_seconds(), 3) if job["started"] else 0.0
    url = url_for("api_v1.job_detail", job_id=job["id"])
    return {
        "id": job["id"], "type": "job", "url": url, "operation": job["operation"], "name": job["operation"],
        "status": job["status"], "failed": job["status"] in ("failed", "error"),
        "created": _time(job["created"]), "started": _time(job["started"]), "finished": _time(job["finished"]),
        "elapsed": elapsed, "launched_by": job["launched_by"], "owner": job["owner"], "target": job["target"],
        "limit": job["limit"], "vars": redact(job["vars"]), "timeout": job["timeout"],
        "job_explanation": job["job_explanation"], "failed_task": job["failed_task"],
        "artifacts": job["artifacts"] or {}, "rc": job["rc"], "relaunch_of": job["relaunch_of"],
        "can_cancel": job["status"] in ACTIVE, "blocked_by": blocked_by,
        "related": {name: f"{url}/{name}" for name in ("events", "stdout", "cancel", "relaunch")},
    }


def event_json(event):
    return {"id": event["id"], "counter": event["counter"], "event": event["event"], "uuid": event["uuid"],
            "created": _time(event["created"]), "host": event["host"], "task": event["task"],
            "failed": event["failed"], "changed": event["changed"], "stdout": event["stdout"],
            "event_data": event["event_data"]}


def page_json(count, results, page, size):
    def link(number):
        args = {**request.args.to_dict(), "page": number, "page_size": size}
        return url_for(request.endpoint, **request.view_args, **args)

    return {"count": count, "next": link(page + 1) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None, "results": results}


MAX_ID = 2 ** 31 - 1  # ids are 32-bit integers in PostgreSQL


def visible_job(job_id):
    job = services().store.get_job(job_id) if job_id <= MAX_ID else None
    if job is None:
        raise ApiError(404, f"No job {job_id}.")
    if not services().access.can_see(g.user, job):
        raise ApiError(403, "You do not have permission to see this job.")
    return job


@bp.get("/me")
def me():
    return jsonify({"name": g.user["name"], "role": g.user["role"]})


@bp.get("/operations")
def operations():
    results = [op.describe() for op in OPERATIONS.values() if g.user["role"] in op.roles]
    return jsonify({"count": len(results), "next": None, "previous": None, "results": results})


@bp.get("/jobs")
def job_list():
    page, size = validation.page_args(request.args, services().settings)
    filters = validation.job_filters(request.args)
    count, jobs = services().store.list_jobs(filters, visible_to=services().access.visible_to(g.user),
                                             offset=(page - 1) * size, limit=size)
    return jsonify(page_json(count, [job_json(job) for job in jobs], page, size))


@bp.post("/jobs")
def job_create():
    operation, variables, limit = validation.job_request(validation.json_body(request))
    with services().access.admission:
        variables, owner = services().access.admit(g.user, operation, variables)
        job = services().jobs.submit(operation, variables, limit, launched_by=g.user["name"], owner=owner,
                                     token=g.token)
    return _accepted(job)


def _accepted(job):
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api_v1.job_detail", job_id=job["id"])
    return response


@bp.get("/jobs/<int:job_id>")
def job_detail(job_id):
    job = visible_job(job_id)
    blocked_by = services().store.blocking_job(job) if job["status"] == "pending" else None
    return jsonify(job_json(job, blocked_by))


@bp.get("/jobs/<int:job_id>/events")
def job_events(job_id):
    visible_job(job_id)
    page, size = validation.page_args(request.args, services().settings)
    count, events = services().store.list_events(job_id, offset=(page - 1) * size, limit=size)
    return jsonify(page_json(count, [event_json(event) for event in events], page, size))


@bp.get("/jobs/<int:job_id>/stdout")
def job_stdout(job_id):
    visible_job(job_id)
    if not validation.bool_arg(request.args, "follow"):
        text, _ = services().store.stdout_since(job_id)
        return Response(text, mimetype="text/plain")
    sse = request.accept_mimetypes.best == "text/event-stream"
    settings = services().settings
    stream = _follow(services().store, job_id, settings.poll_interval / 2, settings.follow_timeout, sse)
    response = Response(stream_with_context(stream), mimetype="text/event-stream" if sse else "text/plain")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _follow(store, job_id, interval, timeout, sse):
    """The job's output as it is written, until the job has ended (or `timeout` seconds have passed)."""
    after = 0
    deadline = time.monotonic() + timeout
    while True:
        finished = store.get_job(job_id)["status"] in FINISHED
        text, after = store.stdout_since(job_id, after)
        if text:
            yield "".join(f"data: {line}\n\n" for line in text.splitlines()) if sse else text
        if finished:
            if sse:
                yield "event: end\ndata: \n\n"
            return
        if time.monotonic() > deadline:
            note = f"[vmm: job {job_id} has not ended after {timeout} s of following; follow it again]"
            yield f"event: timeout\ndata: {note}\n\n" if sse else note + "\n"
            return
        time.sleep(interval)


@bp.post("/jobs/<int:job_id>/cancel")
def job_cancel(job_id):
    job = visible_job(job_id)
    if not services().jobs.cancel(job_id):
        raise ApiError(409, f"Job {job_id} has already ended ({job['status']}).")
    response = jsonify(job_json(services().store.get_job(job_id)))
    response.status_code = 202
    return response


@bp.post("/jobs/<int:job_id>/relaunch")
def job_relaunch(job_id):
    job = visible_job(job_id)
    operation = OPERATIONS[job["operation"]]
    with services().access.admission:
        variables, owner = services().access.admit(g.user, operation, job["vars"])
        relaunched = services().jobs.submit(operation, variables, job["limit"], launched_by=g.user["name"],
                                            owner=owner, relaunch_of=job_id, token=g.token)
    return _accepted(relaunched)
