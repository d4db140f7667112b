"""Errors of the API: one exception type travels up; one handler turns it into JSON."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge


class ApiError(Exception):
    def __init__(self, status, detail, field=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def response(self):
        body = {"detail": self.detail}
        if self.field:
            body["field"] = self.field
        response = jsonify(body)
        response.status_code = self.status
        response.headers.update(self.headers)
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="vmm"'
        return response


def bad_request(field, detail):
    return ApiError(400, f"{field}: {detail}", field=field)


def init_app(app):
    app.register_error_handler(ApiError, ApiError.response)

    @app.before_request
    def _refuse_large_bodies():
        """413 on every route, also those that never read their body (werkzeug checks only when one is read)."""
        limit = app.config["MAX_CONTENT_LENGTH"]
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()

    @app.errorhandler(HTTPException)
    def _http_error(error):
        detail = {413: f"The request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes."}.get(
            error.code, error.description)
        response = ApiError(error.code, detail).response()
        if "Allow" in dict(error.get_headers()):  # 405 names the methods that are allowed
            response.headers["Allow"] = dict(error.get_headers())["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error):
        app.logger.exception("unhandled error")
        return ApiError(500, "Internal error; see the API's log.").response()
