"""Routes of /api/v1/tokens: admins list, create and revoke tokens; users list and revoke their own.

A token is shown once, in the answer to its creation; the store keeps its sha256.
A revoked token stays listed (with the time it was revoked) and is refused from
the next request on.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, request

from . import validation
from .auth import require_admin, require_user
from .errors import ApiError, bad_request
from .schemas import NAME
from .store import MAX_EXPIRES_IN, MAX_QUEUED, ROLES, utcnow
from .views import MAX_ID, page_json

bp = Blueprint("api_v1_tokens", __name__, url_prefix="/api/v1")
bp.before_request(require_user)

TOKEN_CREATE = {"type": "object", "additionalProperties": False, "required": ["user", "role"], "properties": {
    "user": NAME,
    "role": {"type": "string", "enum": list(ROLES),
             "description": "the user's role: a new user gets it; an existing user must have it (else 409)"},
    "expires_in": {"type": "integer", "minimum": 1, "maximum": MAX_EXPIRES_IN,
                   "description": "days until the token expires; none: it never does"},
    "max_queued": {"type": "integer", "minimum": 1, "maximum": MAX_QUEUED,
                   "description": "jobs pending or waiting at once for this token; none: the API's default"}}}


def _store():
    return current_app.extensions["vmm"].store


def _time(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def token_json(row):
    now = utcnow()
    return {"id": row["id"], "user": row["user"], "role": row["role"], "created": _time(row["created"]),
            "expires": _time(row["expires"]), "revoked": _time(row["revoked"]), "last_used": _time(row["last_used"]),
            "max_queued": row["max_queued"] or current_app.extensions["vmm"].settings.max_queued_per_token or None,
            "active": row["revoked"] is None and (row["expires"] is None or row["expires"] > now)}


@bp.get("/tokens")
def token_list():
    page, size = validation.page_args(request.args, current_app.extensions["vmm"].settings)
    user = request.args.get("user")
    if user is not None and (not validation.NAME_RE.match(user) or len(user) > 64):
        raise bad_request("user", "not a valid user name")
    if g.user["role"] != "admin":
        if user not in (None, g.user["name"]):
            return jsonify(page_json(0, [], page, size))
        user = g.user["name"]
    count, rows = _store().token_rows(user=user, offset=(page - 1) * size, limit=size)
    return jsonify(page_json(count, [token_json(row) for row in rows], page, size))


@bp.post("/tokens")
def token_create():
    require_admin()
    body = validation.json_body(request)
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object with user, role, expires_in and max_queued")
    validation.check_schema(TOKEN_CREATE, body, "")
    store = _store()
    role = store.user_role(body["user"])
    if role not in (None, body["role"]):
        # no role change on the side (an admin demoting themselves by accident): the command line does it
        raise ApiError(409, f"role: {body['user']} is {role}; a token has its user's role "
                            "(`python -m api token create` changes it)", field="role")
    user = store.ensure_user(body["user"], body["role"])
    expires = utcnow() + timedelta(days=body["expires_in"]) if body.get("expires_in") else None
    row, token = store.issue_token(user["id"], expires=expires, max_queued=body.get("max_queued"))
    response = jsonify({**token_json(row), "token": token})
    response.status_code = 201
    return response


@bp.delete("/tokens/<int:token_id>")
def token_revoke(token_id):
    """Revoke: 204, again for a token already revoked; 404 for none, and for someone else's (for a user)."""
    store = _store()
    _, rows = store.token_rows(token_id=token_id) if token_id <= MAX_ID else (0, [])
    if not rows or (g.user["role"] != "admin" and rows[0]["user"] != g.user["name"]):
        raise ApiError(404, f"No token {token_id}.")
    store.revoke_token(token_id)
    return "", 204
