"""Requests the API must refuse, and what it answers: no job runs here (workers=0)."""

from __future__ import annotations

import pytest

from api.operations import OPERATIONS

from .conftest import Client, make_token

ROUTES = [("get", "/api/v1/jobs"), ("post", "/api/v1/jobs"), ("get", "/api/v1/jobs/1"),
          ("get", "/api/v1/jobs/1/events"), ("get", "/api/v1/jobs/1/stdout"), ("post", "/api/v1/jobs/1/cancel"),
          ("post", "/api/v1/jobs/1/relaunch"), ("get", "/api/v1/operations"), ("get", "/api/v1/me"),
          ("get", "/metrics")]

HOSTILE = ["../etc", "a/b", "/abs", "a..b", "x'y", 'x"y', "<vm/>", "a b", "a;reboot", "$(id)", "`id`", "a|b",
           "a&b", "a\nb", "", "x" * 65, "-rf", ".hidden", "a\x00b"]

# every string field of vm_create, with a valid rest around it
STRING_FIELDS = {
    "name": lambda v: {"name": v, "image": "img"},
    "image": lambda v: {"name": "vm1", "image": v},
    "owner": lambda v: {"name": "vm1", "image": "img", "owner": v},
    "networks[0].network": lambda v: {"name": "vm1", "image": "img", "networks": [{"network": v}]},
    "networks[0].bridge": lambda v: {"name": "vm1", "image": "img", "networks": [{"bridge": v}]},
    "networks[0].routed": lambda v: {"name": "vm1", "image": "img", "networks": [{"routed": v}]},
    "networks[0].mac": lambda v: {"name": "vm1", "image": "img", "networks": [{"network": "default", "mac": v}]},
    "cloud_init.hostname": lambda v: {"name": "vm1", "image": "img", "cloud_init": {"hostname": v}},
    "console.listen": lambda v: {"name": "vm1", "image": "img", "console": {"listen": v}},
    "machine": lambda v: {"name": "vm1", "image": "img", "machine": v},
}


@pytest.fixture
def api(make_app, sqlite_url):
    app = make_app(sqlite_url, workers=0)
    return app, Client(app, make_token(app, "admin", "admin")), Client(app, make_token(app, "alice", "user"))


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_valid_token(api, method, path):
    app, _, _ = api
    http = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtaW46YWRtaW4="},
                    {"Authorization": "Bearer "}):
        response = getattr(http, method)(path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json() == {"detail": "Authentication credentials were not provided or are not valid."}


def test_tokens_are_stored_hashed(api):
    app, admin, _ = api
    token = admin.headers["Authorization"].split()[1]
    store = app.extensions["vmm"].store
    with store.engine.connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT digest FROM tokens")]
    assert token not in stored and all(len(digest) == 64 for digest in stored)
    assert admin.get("/api/v1/me").get_json() == {"name": "admin", "role": "admin"}


def test_operations_are_listed_with_schemas_by_role(api):
    _, admin, alice = api
    listed = {op["name"]: op for op in admin.get("/api/v1/operations").get_json()["results"]}
    assert set(listed) == set(OPERATIONS)
    assert {"vm_create", "vm_delete", "vm_start", "vm_stop", "vm_restart", "node_bootstrap", "vm_migrate",
            "node_drain", "cluster_heal"} <= set(listed)
    assert listed["vm_migrate"]["vars_schema"]["properties"]["storage"]["enum"] == ["auto", "shared", "copy"]
    assert listed["node_drain"]["vars_schema"]["required"] == ["node"]
    create = listed["vm_create"]["vars_schema"]
    assert create["required"] == ["name", "image"] and create["additionalProperties"] is False
    assert {"name", "image", "vcpus", "memory", "disk_size", "networks", "cloud_init", "domain_type"} <= set(
        create["properties"])
    assert create["properties"]["domain_type"]["enum"] == ["auto", "kvm", "qemu"]
    user_ops = {op["name"] for op in alice.get("/api/v1/operations").get_json()["results"]}
    assert "vm_create" in user_ops
    assert not {"node_bootstrap", "vm_migrate", "node_drain", "cluster_heal"} & user_ops


@pytest.mark.parametrize(("body", "field"), [
    ({"operation": "rm_rf"}, "operation"),
    ({"operation": "../../playbooks/vm_create.yml"}, "operation"),
    ({}, "operation"),
    ({"operation": "vm_create", "playbook": "/tmp/x.yml"}, "playbook"),
    ({"operation": "vm_create", "vars": {"name": "vm1"}}, "vars.image"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "uri": "qemu+ssh://x/system"}}, "vars.uri"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "memory": "lots"}}, "vars.memory"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "memory": 0}}, "vars.memory"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "vcpus": True}}, "vars.vcpus"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "domain_type": "xen"}}, "vars.domain_type"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "networks": [{}]}}, "vars.networks[0]"),
    ({"operation": "vm_create", "vars": {"name": "vm1", "image": "img", "cloud_init": {"x": 1}}},
     "vars.cloud_init.x"),
    ({"operation": "vm_create", "vars": ["name"]}, "vars"),
    ({"operation": "vm_stop", "vars": {"name": "vm1"}, "limit": "a b"}, "limit"),
    ({"operation": "vm_stop", "vars": {"name": "vm1"}, "limit": "all;reboot"}, "limit"),
    ({"operation": "vm_stop", "vars": {"name": "vm1", "shutdown_timeout": -1}}, "vars.shutdown_timeout"),
    ({"operation": "vm_migrate", "vars": {"name": "vm1", "target": "../node2"}}, "vars.target"),
    ({"operation": "vm_migrate", "vars": {"name": "vm1", "storage": "nfs"}}, "vars.storage"),
    ({"operation": "node_drain", "vars": {}}, "vars.node"),
    ({"operation": "node_drain", "vars": {"node": "node1; reboot"}}, "vars.node"),
    ({"operation": "node_drain", "vars": {"node": "node1", "maintenance": "yes"}}, "vars.maintenance"),
    ({"operation": "cluster_heal", "vars": {"cluster": "$(id)"}}, "vars.cluster"),
    (["vm_create"], "body"),
])
def test_bad_job_requests_name_the_field(api, body, field):
    _, admin, _ = api
    response = admin.post("/api/v1/jobs", body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field, response.get_json()
    assert field.split("[")[0] in response.get_json()["detail"]
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0  # nothing queued


@pytest.mark.parametrize("field", list(STRING_FIELDS))
def test_path_and_shell_tricks_are_refused_in_every_string_field(api, field):
    _, admin, _ = api
    for value in HOSTILE:
        response = admin.post("/api/v1/jobs", {"operation": "vm_create", "vars": STRING_FIELDS[field](value)})
        assert response.status_code == 400, (field, value)
        assert response.get_json()["field"] == f"vars.{field}", (field, value, response.get_json())
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0


def test_malformed_bodies(api):
    app, admin, _ = api
    http = app.test_client()
    not_json = http.post("/api/v1/jobs", headers={**admin.headers, "Content-Type": "application/json"},
                         data=b"{not json")
    assert not_json.status_code == 400 and not_json.get_json()["field"] == "body"
    form = http.post("/api/v1/jobs", headers=admin.headers, data={"operation": "vm_create"})
    assert form.status_code == 415
    huge = {"operation": "vm_create", "vars": {"name": "vm1", "image": "img",
                                                "cloud_init": {"user_data": {"x": "y" * 1100000}}}}
    too_big = admin.post("/api/v1/jobs", huge)
    assert too_big.status_code == 413 and "larger than" in too_big.get_json()["detail"]
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0


def test_bad_query_parameters(api):
    _, admin, _ = api
    for query, field in (("page=0", "page"), ("page=x", "page"), ("page_size=1000", "page_size"),
                         ("status=lost", "status"), ("operation=rm", "operation"), ("launched_by=a/b", "launched_by"),
                         ("page=%C2%B2", "page")):
        response = admin.get(f"/api/v1/jobs?{query}")
        assert response.status_code == 400 and response.get_json()["field"] == field, query
    assert admin.get("/api/v1/jobs/1/stdout?follow=maybe").status_code == 404  # no job 1: 404 before the query


def test_users_cannot_run_admin_operations_or_act_for_others(api):
    _, admin, alice = api
    refused = alice.post("/api/v1/jobs", {"operation": "node_bootstrap"})
    assert refused.status_code == 403 and refused.get_json() == {"detail": "Operation node_bootstrap is for "
                                                                           "administrators."}
    other_owner = alice.post("/api/v1/jobs", {"operation": "vm_create",
                                              "vars": {"name": "it-api-x", "image": "img", "owner": "bob"}})
    assert other_owner.status_code == 403 and other_owner.get_json()["field"] == "vars.owner"
    # a VM that does not exist and one of someone else's get the same answer
    missing = alice.post("/api/v1/jobs", {"operation": "vm_stop", "vars": {"name": "it-api-nobody-has-this"}})
    assert missing.status_code == 403
    assert missing.get_json() == {"detail": "You do not have permission to act on this VM."}
    assert alice.get("/metrics").status_code == 403
    assert admin.get("/api/v1/jobs").get_json()["count"] == 0


def test_pagination_and_filters(api):
    _, admin, alice = api
    for number in range(5):
        admin.submit("vm_start", {"name": f"it-api-page{number}"})
    alice.submit("vm_create", {"name": "it-api-alice1", "image": "img"})
    first = admin.get("/api/v1/jobs?page_size=2").get_json()
    assert first["count"] == 6 and len(first["results"]) == 2 and first["previous"] is None
    assert [job["id"] for job in first["results"]] == [6, 5]  # newest first
    second = admin.get(first["next"]).get_json()
    assert [job["id"] for job in second["results"]] == [4, 3] and second["previous"]
    assert admin.get("/api/v1/jobs?operation=vm_create").get_json()["count"] == 1
    assert admin.get("/api/v1/jobs?launched_by=alice").get_json()["count"] == 1
    assert admin.get("/api/v1/jobs?target=vm:it-api-page3").get_json()["count"] == 1
    assert admin.get("/api/v1/jobs?status=pending").get_json()["count"] == 6
    # alice sees her job only, and not the others' even by id
    mine = alice.get("/api/v1/jobs").get_json()
    assert [job["launched_by"] for job in mine["results"]] == ["alice"] and mine["count"] == 1
    assert mine["results"][0]["owner"] == "alice" and mine["results"][0]["vars"]["owner"] == "alice"
    assert alice.get("/api/v1/jobs/1").status_code == 403
    assert alice.post("/api/v1/jobs/1/cancel").status_code == 403
    assert admin.get("/api/v1/jobs/999").status_code == 404


def test_secrets_are_not_shown(api):
    _, admin, _ = api
    job = admin.submit("vm_create", {"name": "it-api-secret", "image": "img",
                                     "cloud_init": {"password": "hunter2", "hostname": "h1"},
                                     "console": {"password": "vncpass"}})
    assert job["vars"]["cloud_init"] == {"password": "$encrypted$", "hostname": "h1"}
    assert job["vars"]["console"]["password"] == "$encrypted$"
    assert "hunter2" not in admin.get(f"/api/v1/jobs/{job['id']}").get_data(as_text=True)


def test_pending_jobs_cancel_and_say_what_blocks_them(api):
    _, admin, _ = api
    first = admin.submit("vm_start", {"name": "it-api-q"})
    second = admin.submit("vm_stop", {"name": "it-api-q"})
    assert admin.job(second["id"])["blocked_by"] == first["id"]
    canceled = admin.post(f"/api/v1/jobs/{first['id']}/cancel")
    assert canceled.status_code == 202 and canceled.get_json()["status"] == "canceled"
    assert admin.post(f"/api/v1/jobs/{first['id']}/cancel").status_code == 409
    assert admin.job(second["id"])["blocked_by"] is None


def test_openapi_document_is_served_without_a_token(api):
    app, _, _ = api
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/events", "/api/v1/jobs/{job_id}/stdout",
            "/api/v1/jobs/{job_id}/cancel", "/api/v1/jobs/{job_id}/relaunch", "/api/v1/operations"} <= set(
        document["paths"])
    assert len(document["components"]["schemas"]["JobCreate"]["oneOf"]) == len(OPERATIONS)
