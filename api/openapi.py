"""The OpenAPI 3 document of the API, built from the same operation schemas the API validates with."""

from __future__ import annotations

import copy
import functools

from .directory_store import QUOTA_LIMITS
from .operations import LIMIT, OPERATIONS
from .store import STATUSES
from .tokens import TOKEN_CREATE
from .validation import NAME_RE

STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time", "nullable": True}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
NULLABLE_INTEGER = {"type": "integer", "nullable": True}
NULLABLE_NUMBER = {"type": "number", "nullable": True}
NAME_PARAMETER = {"type": "string", "pattern": NAME_RE.pattern, "maxLength": 64}
LIMITS = {"type": "object", "properties": {limit: NULLABLE_INTEGER for limit in QUOTA_LIMITS}}
USAGE = {"type": "object", "properties": {limit: NULLABLE_NUMBER for limit in QUOTA_LIMITS}}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


ERRORS = {"400": _error("Bad request: the field is named"), "401": _error("No valid token"),
          "403": _error("Not allowed"), "404": _error("No such job")}


def _page(item):
    return {"type": "object", "required": ["count", "next", "previous", "results"], "properties": {
        "count": {"type": "integer", "minimum": 0}, "next": NULLABLE_STRING, "previous": NULLABLE_STRING,
        "results": {"type": "array", "items": item}}}


def _job_schema():
    return {"type": "object", "properties": {
        "id": {"type": "integer"}, "type": STRING, "url": STRING, "operation": STRING, "name": STRING,
        "status": {"type": "string", "enum": list(STATUSES)}, "failed": {"type": "boolean"},
        "created": TIME, "started": TIME, "finished": TIME, "elapsed": {"type": "number"},
        "launched_by": STRING, "owner": NULLABLE_STRING, "target": STRING, "limit": NULLABLE_STRING,
        "vars": ANY_OBJECT, "timeout": {"type": "integer"}, "job_explanation": STRING,
        "failed_task": {"type": "object", "nullable": True, "additionalProperties": True,
                        "properties": {"task": NULLABLE_STRING, "host": NULLABLE_STRING, "msg": STRING}},
        "artifacts": ANY_OBJECT, "rc": {"type": "integer", "nullable": True},
        "relaunch_of": {"type": "integer", "nullable": True}, "can_cancel": {"type": "boolean"},
        "blocked_by": {"type": "integer", "nullable": True}, "related": ANY_OBJECT}}


def _job_create(operation):
    vars_schema = copy.deepcopy(operation.schema)
    body = {"type": "object", "additionalProperties": False, "required": ["operation"],
            "properties": {"operation": {"type": "string", "enum": [operation.name]}, "vars": vars_schema,
                           "limit": {**LIMIT, "nullable": True}}}
    if vars_schema.get("required"):
        body["required"].append("vars")
    return body


def _token_schema(with_token=False):
    schema = {"type": "object", "required": ["id", "user", "role", "created", "expires", "revoked", "last_used",
                                             "max_queued", "active"], "properties": {
        "id": {"type": "integer"}, "user": STRING, "role": STRING, "created": TIME, "expires": TIME,
        "revoked": TIME, "last_used": TIME, "max_queued": {"type": "integer", "nullable": True},
        "active": {"type": "boolean"}}}
    if with_token:
        schema["required"].append("token")
        schema["properties"]["token"] = {"type": "string", "description": "shown this once; keep it"}
    return schema


def _too_many():
    return {**_error("Too many jobs queued for this token"), "headers": {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}}


def _parameters(*names):
    known = {
        "job_id": {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                              "maximum": 2 ** 31 - 1}},
        "subscription_id": {"name": "subscription_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}},
        "webhook_id": {"name": "webhook_id", "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}},
        "policy_id": {"name": "policy_id", "in": "path", "required": True,
                      "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}},
        "token_id": {"name": "token_id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}},
        "user": {"name": "user", "in": "query", "description": "only this user's tokens",
                 "schema": {"type": "string", "pattern": NAME_RE.pattern, "maxLength": 64}},
        "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 999999999}},
        "page_size": {"name": "page_size", "in": "query",
                      "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        "status": {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
        "operation": {"name": "operation", "in": "query", "schema": {"type": "string", "enum": list(OPERATIONS)}},
        "target": {"name": "target", "in": "query", "schema": {"type": "string", "maxLength": 128}},
        "launched_by": {"name": "launched_by", "in": "query",
                        "schema": {"type": "string", "pattern": NAME_RE.pattern, "maxLength": 64}},
        **{name: {"name": name, "in": "query", "schema": NAME_PARAMETER} for name in ("owner", "state", "cluster")},
        "node": {"name": "node", "in": "query", "schema": {**NAME_PARAMETER, "maxLength": 255}},
        "name": {"name": "name", "in": "path", "required": True, "schema": NAME_PARAMETER},
        "follow": {"name": "follow", "in": "query",
                   "description": "stream the output until the job has ended (at most VMM_API_FOLLOW_TIMEOUT s)",
                   "schema": {"type": "string", "enum": ["0", "1", "true", "false"]}},
    }
    return [known[name] for name in names]


def _vm_schema(with_jobs=False):
    schema = {"type": "object", "properties": {
        "name": STRING, "url": STRING, "uuid": NULLABLE_STRING, "node": NULLABLE_STRING, "owner": NULLABLE_STRING,
        "state": STRING, "vcpus": NULLABLE_INTEGER, "memory": NULLABLE_INTEGER, "disk_size": NULLABLE_NUMBER,
        "addresses": {"type": "array", "items": STRING}, "image": NULLABLE_STRING, "cluster": NULLABLE_STRING,
        "ha": {"type": "boolean"},
        "rescue": dict(NULLABLE_STRING, description="the rescue ISO the VM boots (vm_rescue), null in a normal boot"),
        "iso": dict(NULLABLE_STRING, description="the ISO in the VM's CD-ROM drive (vm_iso), or null"),
        "last_seen": TIME}}
    if with_jobs:
        schema["properties"]["jobs"] = {"type": "array", "items": _ref("Job")}
    return schema


def _snapshots_schema():
    snapshot = {"type": "object", "required": ["name", "created", "state", "memory"], "properties": {
        "name": STRING, "description": NULLABLE_STRING, "created": NULLABLE_STRING,
        "state": {"type": "string", "description": "the VM's state when it was taken"},
        "memory": {"type": "boolean", "nullable": True}, "parent": NULLABLE_STRING}}
    return {"type": "object", "required": ["vm", "count", "results", "known"], "properties": {
        "vm": STRING, "count": {"type": "integer", "minimum": 0}, "results": {"type": "array", "items": snapshot},
        "known": {"type": "boolean", "description": "false until a vm_snapshot or vm_reinstall job of the VM ended"}}}


def _backups_schema():
    disk = {"type": "object", "properties": {"target": STRING, "virtual_size": NULLABLE_INTEGER,
                                             "size": NULLABLE_INTEGER, "sha256": NULLABLE_STRING}}
    backup = {"type": "object", "required": ["name", "created", "size", "disks"], "properties": {
        "name": STRING, "created": NULLABLE_STRING, "node": NULLABLE_STRING,
        "consistency": {"type": "string", "nullable": True,
                        "description": "frozen (by the guest agent), crash (running, no agent) or stopped"},
        "vm_state": NULLABLE_STRING, "size": {"type": "integer", "description": "bytes in the store"},
        "disks": {"type": "array", "items": disk}}}
    return {"type": "object", "required": ["vm", "count", "results", "known"], "properties": {
        "vm": STRING, "count": {"type": "integer", "minimum": 0}, "results": {"type": "array", "items": backup},
        "known": {"type": "boolean", "description": "false until a vm_backup or vm_restore job of the VM ended"}}}


def _policy_create():
    name = {"type": "string", "pattern": NAME_RE.pattern, "maxLength": 64}
    return {"type": "object", "additionalProperties": False, "required": ["every", "keep"],
            "not": {"required": ["vm", "cluster"]}, "description": "vm or cluster (not both), or neither: every VM",
            "properties": {
        "vm": name, "cluster": name,
        "every": {"type": "integer", "minimum": 60, "maximum": 366 * 86400, "description": "seconds"},
        "keep": {"type": "integer", "minimum": 1, "maximum": 1000},
        "start": {"type": "integer", "minimum": 0, "maximum": 366 * 86400,
                  "description": "seconds from now to the first run (0)"}}}


def _policy_schema():
    return {"type": "object", "required": ["id", "every", "keep", "owner", "next_run"], "properties": {
        "id": {"type": "integer"}, "vm": NULLABLE_STRING, "cluster": NULLABLE_STRING, "every": {"type": "integer"},
        "keep": {"type": "integer"}, "owner": STRING, "created": STRING, "next_run": STRING,
        "last_run": NULLABLE_STRING, "last_jobs": {"type": "array", "items": {"type": "integer"}}}}


def _pool_schema():
    address = {"type": "object", "required": ["address", "vm"], "properties": {
        "address": STRING, "vm": {"type": "string", "description": "the VM holding it"}}}
    attach = {"type": "object", "description": "what the pool serves: one of network, bridge, routed",
              "properties": {"network": STRING, "bridge": STRING, "routed": {"type": "boolean"}}}
    return {"type": "object", "required": ["name", "version", "subnet", "size", "used", "free", "addresses"],
            "properties": {
                "name": STRING, "version": {"type": "integer", "enum": [4, 6]}, "subnet": STRING,
                "gateway": NULLABLE_STRING, "dns": {"type": "array", "items": STRING}, "attach": attach,
                "cluster": NULLABLE_STRING, "size": {"type": "integer", "minimum": 0},
                "used": {"type": "integer", "minimum": 0}, "free": {"type": "integer", "minimum": 0},
                "addresses": {"type": "array", "items": address,
                              "description": "every used address with the VM holding it, by address; an address "
                                            "two VMs hold is listed for each"}}}


def _directory_paths():
    quota = _json({"type": "object", "properties": {"user": STRING, "quota": LIMITS, "used": USAGE, "left": USAGE}})
    return {
        "/api/v1/vms": {"get": {
            "summary": "The VM directory (a user's own VMs), by name, without asking any node",
            "parameters": _parameters("page", "page_size", "owner", "node", "state", "cluster"),
            "responses": {"200": _json(_page(_vm_schema())), "400": ERRORS["400"], "401": ERRORS["401"]}}},
        "/api/v1/vms/{name}": {"get": {
            "summary": "One VM, with the latest jobs that touched it", "parameters": _parameters("name"),
            "responses": {"200": _json(_vm_schema(with_jobs=True)), "400": ERRORS["400"], "401": ERRORS["401"],
                          "404": _error("No such VM of the caller's")}}},
        "/api/v1/vms/{name}/snapshots": {"get": {
            "summary": "The VM's snapshots, oldest first, as its last vm_snapshot or vm_reinstall job saw them",
            "parameters": _parameters("name"),
            "responses": {"200": _json(_snapshots_schema()), "400": ERRORS["400"], "401": ERRORS["401"],
                          "404": _error("No such VM of the caller's")}}},
        "/api/v1/vms/{name}/backups": {"get": {
            "summary": "The VM's backups, oldest first, as its last vm_backup or vm_restore job saw them",
            "parameters": _parameters("name"),
            "responses": {"200": _json(_backups_schema()), "400": ERRORS["400"], "401": ERRORS["401"],
                          "404": _error("No such VM of the caller's")}}},
        "/api/v1/nodes": {"get": {
            "summary": "Nodes with health and free room, from the last sync or node job (admin)",
            "responses": {"200": _json(_page({"type": "object", "additionalProperties": True})),
                          "401": ERRORS["401"], "403": ERRORS["403"]}}},
        "/api/v1/pools": {"get": {
            "summary": "IP pools of the inventory's vmm_ip_pools, with used and free counts and the VMs holding "
                       "the used addresses, from the directory (admin)",
            "responses": {"200": _json(_page(_ref("Pool"))), "401": ERRORS["401"], "403": ERRORS["403"],
                          "500": _error("The inventory's vmm_ip_pools is not valid (the field and node are named) "
                                        "or could not be read")}}},
        "/api/v1/users/{name}/quota": {
            "get": {"summary": "A user's quota, usage and what is left (admin, or the user)",
                    "parameters": _parameters("name"),
                    "responses": {"200": quota, "400": ERRORS["400"], "401": ERRORS["401"], "403": ERRORS["403"]}},
            "put": {"summary": "Set a user's limits (admin); null is no limit", "parameters": _parameters("name"),
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": False,
                        "properties": {limit: {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1,
                                               "nullable": True} for limit in QUOTA_LIMITS}}}}},
                    "responses": {"200": quota, "400": ERRORS["400"], "401": ERRORS["401"], "403": ERRORS["403"],
                                  "415": _error("Not JSON")}}},
    }


def _webhook_schemas():
    from .email_notices import ADDRESS_RE
    from .webhooks import EVENTS, URL_RE

    hook = {"type": "object", "required": ["id", "url", "events"], "properties": {
        "id": {"type": "integer"}, "url": STRING, "events": {"type": "array", "items": STRING},
        "description": NULLABLE_STRING, "created": STRING, "created_by": STRING,
        "secret": {"type": "string", "description": "only in the answer to the POST that made it"}}}
    create = {"type": "object", "additionalProperties": False, "required": ["url", "events"], "properties": {
        "url": {"type": "string", "maxLength": 2048, "pattern": URL_RE.pattern, "description": "http(s) URL"},
        "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(EVENTS)}},
        "secret": {"type": "string", "minLength": 16, "maxLength": 256, "pattern": r"^[ -~]+$",
                   "description": "the HMAC key; left out, the API makes one"},
        "description": {"type": "string", "maxLength": 1024}}}
    delivery = {"type": "object", "required": ["id", "webhook", "event", "status", "attempts"], "properties": {
        "id": {"type": "integer"}, "webhook": {"type": "integer", "nullable": True},
        "subscription": {"type": "integer", "nullable": True}, "event": STRING,
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]}, "attempts": {"type": "integer"},
        "last_code": {"type": "integer", "nullable": True}, "last_error": NULLABLE_STRING, "created": STRING,
        "delivered": NULLABLE_STRING, "next_attempt": NULLABLE_STRING, "body": ANY_OBJECT}}
    subscription = {"type": "object", "required": ["id", "user", "address", "events"], "properties": {
        "id": {"type": "integer"}, "user": STRING, "admin": {"type": "boolean"}, "address": STRING,
        "events": {"type": "array", "items": STRING}, "created": STRING}}
    subscribe = {"type": "object", "additionalProperties": False, "required": ["address", "events"], "properties": {
        "address": {"type": "string", "maxLength": 254, "pattern": ADDRESS_RE.pattern},
        "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(EVENTS)},
                   "description": "node.down is for administrators"}}}
    return {"Webhook": hook, "WebhookCreate": create, "WebhookDelivery": delivery,
            "EmailSubscription": subscription, "EmailSubscriptionCreate": subscribe}


def _webhook_paths():
    admin = {"401": ERRORS["401"], "403": ERRORS["403"]}
    missing = _error("No such webhook")
    listing = {"type": "object", "properties": {"count": {"type": "integer"},
                                                "results": {"type": "array", "items": _ref("Webhook")}}}
    return {
        "/api/v1/webhooks": {
            "get": {"summary": "Webhooks (admin)", "responses": {"200": _json(listing), **admin}},
            "post": {"summary": "POST these events to `url` (admin), signed: X-Vmm-Signature is sha256=<HMAC-SHA256 "
                                "of the body with the secret, shown once>",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(
                         "WebhookCreate")}}},
                     "responses": {"201": _json(_ref("Webhook"), "Created"), "400": ERRORS["400"], **admin,
                                   "413": _error("Body too large"), "415": _error("Not JSON")}}},
        "/api/v1/webhooks/{webhook_id}": {
            "get": {"summary": "One webhook", "parameters": _parameters("webhook_id"),
                    "responses": {"200": _json(_ref("Webhook")), **admin, "404": missing}},
            "delete": {"summary": "Delete a webhook and its deliveries", "parameters": _parameters("webhook_id"),
                       "responses": {"204": {"description": "Deleted"}, **admin, "404": missing}}},
        "/api/v1/webhooks/{webhook_id}/deliveries": {"get": {
            "summary": "The webhook's deliveries, newest first (the last 200), with their attempts",
            "parameters": _parameters("webhook_id"),
            "responses": {"200": _json({"type": "object", "properties": {
                "count": {"type": "integer"}, "results": {"type": "array", "items": _ref("WebhookDelivery")}}}),
                **admin, "404": missing}}},
        **_email_paths(),
    }


def _email_paths():
    missing = _error("No such subscription (or not yours)")
    listing = {"type": "object", "properties": {"count": {"type": "integer"},
                                                "results": {"type": "array", "items": _ref("EmailSubscription")}}}
    return {
        "/api/v1/email_subscriptions": {
            "get": {"summary": "Email subscriptions (admins: all; users: their own)",
                    "responses": {"200": _json(listing), "401": ERRORS["401"]}},
            "post": {"summary": "Mail these events to `address`: a user's own jobs' and VMs' events; an "
                                "administrator's, all of them",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(
                         "EmailSubscriptionCreate")}}},
                     "responses": {"201": _json(_ref("EmailSubscription"), "Created"), "400": ERRORS["400"],
                                   "401": ERRORS["401"], "403": _error("node.down asked by a user"),
                                   "413": _error("Body too large"),
                                   "415": _error("Not JSON")}}},
        "/api/v1/email_subscriptions/{subscription_id}": {
            "get": {"summary": "One email subscription", "parameters": _parameters("subscription_id"),
                    "responses": {"200": _json(_ref("EmailSubscription")), "401": ERRORS["401"], "404": missing}},
            "delete": {"summary": "Delete an email subscription", "parameters": _parameters("subscription_id"),
                       "responses": {"204": {"description": "Deleted"}, "401": ERRORS["401"], "404": missing}}},
        "/api/v1/email_subscriptions/{subscription_id}/deliveries": {"get": {
            "summary": "The subscription's deliveries, newest first (the last 200)",
            "parameters": _parameters("subscription_id"),
            "responses": {"200": _json({"type": "object", "properties": {
                "count": {"type": "integer"}, "results": {"type": "array", "items": _ref("WebhookDelivery")}}}),
                "401": ERRORS["401"], "404": missing}}},
    }


def _token_paths():
    return {
        "/api/v1/tokens": {
            "get": {"summary": "Tokens (admins: all; users: their own), oldest first; never the tokens themselves",
                    "parameters": _parameters("user", "page", "page_size"),
                    "responses": {"200": _json(_page(_ref("Token"))), "400": ERRORS["400"], "401": ERRORS["401"]}},
            "post": {"summary": "Create a token, and its user if needed (admin); the token is shown once",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": _ref("TokenCreate")}}},
                     "responses": {"201": _json(_ref("TokenCreated"), "Created"), "400": ERRORS["400"],
                                   "401": ERRORS["401"], "403": ERRORS["403"],
                                   "409": _error("The user exists with another role"), "413": _error("Body too large"),
                                   "415": _error("Not JSON")}}},
        "/api/v1/backup_policies": {
            "get": {"summary": "Backup policies (admins: all; users: their own)",
                    "responses": {"200": _json({"type": "object", "properties": {
                        "count": {"type": "integer"}, "results": {"type": "array", "items": _ref("BackupPolicy")}}}),
                                  "401": ERRORS["401"]}},
            "post": {"summary": "Back up a VM (users: their own), a cluster's VMs or every VM (admins) every `every` "
                                "seconds, keeping `keep`; the first run after `start` seconds",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _policy_create()}}},
                     "responses": {"201": _json(_ref("BackupPolicy"), "Created"), "400": ERRORS["400"],
                                   "401": ERRORS["401"], "403": ERRORS["403"], "413": _error("Body too large"),
                                   "415": _error("Not JSON")}}},
        "/api/v1/backup_policies/{policy_id}": {
            "get": {"summary": "One backup policy", "parameters": _parameters("policy_id"),
                    "responses": {"200": _json(_ref("BackupPolicy")), "401": ERRORS["401"],
                                  "404": _error("No such policy (or not yours)")}},
            "delete": {"summary": "Delete a backup policy (its backups stay)", "parameters": _parameters("policy_id"),
                       "responses": {"204": {"description": "Deleted"}, "401": ERRORS["401"],
                                     "404": _error("No such policy (or not yours)")}}},
        "/api/v1/tokens/{token_id}": {"delete": {
            "summary": "Revoke a token (admins: any; users: their own); it stays listed as revoked",
            "parameters": _parameters("token_id"),
            "responses": {"204": {"description": "Revoked (or already revoked)"}, "401": ERRORS["401"],
                          "404": _error("No such token (or not yours)")}}},
    }


@functools.cache
def openapi_document():
    job = _ref("Job")
    accepted = {"202": _json(job, "Accepted: the job is queued"), **ERRORS}
    paths = {
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                         "responses": {"200": _json(ANY_OBJECT)}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (admin)", "responses": {
            "200": {"description": "OK", "content": {"text/plain": {"schema": STRING}}},
            "401": ERRORS["401"], "403": ERRORS["403"]}}},
        "/api/v1/me": {"get": {"summary": "The caller", "responses": {
            "200": _json({"type": "object", "properties": {"name": STRING, "role": STRING}}),
            "401": ERRORS["401"]}}},
        "/api/v1/operations": {"get": {"summary": "Operations the caller may run, with their vars' schemas",
                                       "responses": {"200": _json(_page(_ref("Operation"))), "401": ERRORS["401"]}}},
        "/api/v1/jobs": {
            "get": {"summary": "Jobs, newest first",
                    "parameters": _parameters("page", "page_size", "status", "operation", "target", "launched_by"),
                    "responses": {"200": _json(_page(job)), "400": ERRORS["400"], "401": ERRORS["401"]}},
            "post": {"summary": "Launch an operation as a job",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobCreate")}}},
                     "responses": {**accepted, "413": _error("Body too large"), "429": _too_many(),
                                   "415": _error("Not JSON")}}},
        "/api/v1/jobs/{job_id}": {"get": {"summary": "One job", "parameters": _parameters("job_id"),
                                          "responses": {"200": _json(job), **ERRORS}}},
        "/api/v1/jobs/{job_id}/events": {"get": {
            "summary": "The job's events, by counter", "parameters": _parameters("job_id", "page", "page_size"),
            "responses": {"200": _json(_page(_ref("Event"))), **ERRORS}}},
        "/api/v1/jobs/{job_id}/stdout": {"get": {
            "summary": "The job's output as text", "parameters": _parameters("job_id", "follow"),
            "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": STRING},
                                                                   "text/event-stream": {"schema": STRING}}},
                          **ERRORS}}},
        "/api/v1/jobs/{job_id}/cancel": {"post": {
            "summary": "Cancel a queued or running job", "parameters": _parameters("job_id"),
            "responses": {**accepted, "409": _error("The job has already ended")}}},
        "/api/v1/jobs/{job_id}/relaunch": {"post": {
            "summary": "Run a job's operation again with the same vars", "parameters": _parameters("job_id"),
            "responses": {**accepted, "429": _too_many()}}},
        **_token_paths(),
        **_webhook_paths(),
        **_directory_paths(),
    }
    schemas = {
        "Error": {"type": "object", "required": ["detail"], "properties": {"detail": STRING, "field": STRING}},
        "Job": _job_schema(),
        "Token": _token_schema(),
        "TokenCreated": _token_schema(with_token=True),
        "TokenCreate": copy.deepcopy(TOKEN_CREATE),
        "Event": {"type": "object", "properties": {
            "id": {"type": "integer"}, "counter": {"type": "integer"}, "event": STRING, "uuid": NULLABLE_STRING,
            "created": TIME, "host": NULLABLE_STRING, "task": NULLABLE_STRING, "failed": {"type": "boolean"},
            "changed": {"type": "boolean"}, "stdout": STRING, "event_data": ANY_OBJECT}},
        "Operation": {"type": "object", "properties": {
            "name": STRING, "description": STRING, "target": STRING, "roles": {"type": "array", "items": STRING},
            "timeout": {"type": "integer"}, "vars_schema": ANY_OBJECT}},
        "Pool": _pool_schema(),
        "BackupPolicy": _policy_schema(),
        **_webhook_schemas(),
        "JobCreate": {"oneOf": [_ref(f"JobCreate_{name}") for name in OPERATIONS]},
        **{f"JobCreate_{name}": _job_create(op) for name, op in OPERATIONS.items()},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "vmm jobs API", "version": "1.0.0",
                 "description": "Every operation is a job run by ansible-runner; field names follow AWX's job API."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": paths,
    }
