"""Parsing and checking what clients send: bodies, variables, query parameters. Errors name the field."""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

from .directory_store import QUOTA_LIMITS, VM_FILTERS
from .errors import ApiError, bad_request
from .inert import unencodable
from .operations import LIMIT, OPERATIONS
from .store import STATUSES

JOB_KEYS = ("operation", "vars", "limit")
NAME_RE = re.compile(r"^[A-Za-z0-9](\.?[A-Za-z0-9_-])*$")


def json_body(request):
    if not request.is_json:
        raise ApiError(415, "Send the body as application/json.")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("body", f"not valid JSON ({exc})") from None
    return body


def object_body(body, fields, what):
    """`body` when it is a JSON object of `fields` only; else a 400 naming the body or the unknown field."""
    if not isinstance(body, dict):
        raise bad_request("body", f"must be a JSON object with {what}")
    for key in body:
        if key not in fields:
            raise bad_request(str(key)[:64], f"unknown field (use {', '.join(fields)})")
    return body


def job_request(body):
    """(operation, vars, limit) of a POST /jobs body."""
    object_body(body, JOB_KEYS, "operation, vars and limit")
    name = body.get("operation")
    if not isinstance(name, str) or name not in OPERATIONS:
        raise bad_request("operation", f"must be one of {', '.join(OPERATIONS)}")
    variables = body.get("vars", {})
    if not isinstance(variables, dict):
        raise bad_request("vars", "must be an object")
    broken = unencodable(variables)
    if broken:
        raise bad_request(broken[:200], "is not valid Unicode text (a lone surrogate)")
    check_vars(name, variables)
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, str) or len(limit) > LIMIT["maxLength"]
                              or not re.match(LIMIT["pattern"], limit)):
        raise bad_request("limit", "must be host or group names separated by commas")
    return OPERATIONS[name], variables, limit or None


def check_vars(operation, variables):
    check_schema(OPERATIONS[operation].schema, variables, "vars")


def check_schema(schema, value, prefix):
    """ApiError(400) naming the first field of `value` (called `prefix`) that `schema` refuses."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    if not errors:
        return
    error = errors[0]
    path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    path = path.lstrip(".") or "body"
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = sorted(str(key) for key in error.instance if key not in known)
        raise bad_request(_member(path, extra[0][:64]), f"unknown option (known: {', '.join(known) or 'none'})")
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        raise bad_request(_member(path, missing[0]), "is required")
    if error.validator == "pattern":
        raise bad_request(path, f"must be {error.schema.get('description') or 'like ' + error.schema['pattern']}")
    if error.validator == "oneOf" and path.startswith("vars.networks"):
        raise bad_request(path, "a NIC has either network or bridge")
    raise bad_request(path, error.message[:300])


def _member(path, key):
    return key if path == "body" else f"{path}.{key}"


def page_args(args, settings):
    page = int_arg(args, "page", 1, minimum=1)
    size = int_arg(args, "page_size", settings.page_size, minimum=1, maximum=settings.max_page_size)
    return page, size


def int_arg(args, name, default, minimum, maximum=None):
    raw = args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise bad_request(name, f"must be an integer {bounds}")
    return int(raw)


def job_filters(args):
    filters = {}
    checks = {"status": lambda v: v in STATUSES, "operation": lambda v: v in OPERATIONS,
              "launched_by": lambda v: bool(NAME_RE.match(v)) and len(v) <= 64,
              "target": lambda v: len(v) <= 128}
    for name, ok in checks.items():
        value = args.get(name)
        if value is None:
            continue
        if not ok(value):
            raise bad_request(name, "not a valid value")
        filters[name] = value
    return filters


def vm_filters(args):
    filters = {}
    for name in VM_FILTERS:
        value = args.get(name)
        if value is None:
            continue
        if not NAME_RE.match(value) or len(value) > (255 if name == "node" else 64):
            raise bad_request(name, "not a valid value")
        filters[name] = value
    return filters


def quota_body(body):
    """{limit: whole number or None (no limit)} of a PUT .../quota body; every limit must be named."""
    if not isinstance(body, dict):
        raise bad_request("body", f"must be an object with {', '.join(QUOTA_LIMITS)}")
    for key in body:
        if key not in QUOTA_LIMITS:
            raise bad_request(str(key)[:64], f"unknown limit (use {', '.join(QUOTA_LIMITS)})")
    for limit in QUOTA_LIMITS:
        value = body.get(limit)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 31):
            raise bad_request(limit, "must be a whole number from 0, or null for no limit")
    return {limit: body.get(limit) for limit in QUOTA_LIMITS}


def bool_arg(args, name):
    raw = args.get(name, "0").lower()
    if raw not in ("0", "1", "true", "false"):
        raise bad_request(name, "must be 0, 1, true or false")
    return raw in ("1", "true")
