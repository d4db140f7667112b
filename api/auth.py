"""Bearer tokens: `Authorization: Bearer <token>`; the store keeps only their sha256.

Every request looks its token up in the database (no cache): a revoked or expired
token is refused from the next request on, by every API process."""

from __future__ import annotations

from flask import current_app, g, request

from .errors import ApiError

UNAUTHORIZED = "Authentication credentials were not provided or are not valid."


def require_user():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise ApiError(401, UNAUTHORIZED)
    found = current_app.extensions["vmm"].store.user_for_token(token)
    if found is None:
        raise ApiError(401, UNAUTHORIZED)
    g.user = {"name": found["name"], "role": found["role"]}
    g.token = {"id": found["token_id"], "max_queued": found["max_queued"]}


def require_admin():
    require_user()
    if g.user["role"] != "admin":
        raise ApiError(403, "This is for administrators.")
