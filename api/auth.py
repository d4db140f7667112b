"""Bearer tokens: `Authorization: Bearer <token>`; the store keeps only their sha256."""

from __future__ import annotations

from flask import current_app, g, request

from .errors import ApiError

UNAUTHORIZED = "Authentication credentials were not provided or are not valid."


def require_user():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise ApiError(401, UNAUTHORIZED)
    user = current_app.extensions["vmm"].store.user_for_token(token)
    if user is None:
        raise ApiError(401, UNAUTHORIZED)
    g.user = user


def require_admin():
    require_user()
    if g.user["role"] != "admin":
        raise ApiError(403, "This is for administrators.")
