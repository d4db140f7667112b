"""Jobs run for real: ansible-runner running the project's playbooks against this node."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from api.operations import OPERATIONS

from .conftest import TEST_SLEEP, Client, make_token


def interval(job):
    return job["started"], job["finished"]


def test_node_info_job_has_events_stdout_and_artifacts(clients):
    _, admin, _, _ = clients
    submitted = admin.submit("node_info")
    assert submitted["status"] == "pending" and submitted["launched_by"] == "admin"
    assert submitted["target"] == "node:all"
    job = admin.wait(submitted["id"])
    assert job["status"] == "successful", job
    assert job["failed"] is False and job["rc"] == 0 and job["elapsed"] > 0
    assert job["started"] >= job["created"] and job["finished"] >= job["started"]
    assert job["artifacts"]["nodes"]["localhost"]["libvirtd_alive"] is True
    events = admin.get(f"/api/v1/jobs/{job['id']}/events?page_size=200").get_json()
    names = [event["event"] for event in events["results"]]
    assert names[0] == "playbook_on_start" and names[-1] == "playbook_on_stats"
    assert [event["counter"] for event in events["results"]] == sorted(event["counter"] for event in events["results"])
    assert events["count"] == len(names)
    stdout = admin.get(f"/api/v1/jobs/{job['id']}/stdout")
    assert stdout.mimetype == "text/plain"
    assert "TASK [Read the node's facts]" in stdout.get_data(as_text=True)
    assert "PLAY RECAP" in stdout.get_data(as_text=True) and "\x1b[" not in stdout.get_data(as_text=True)


def test_failed_job_shows_the_failing_task_and_why(clients):
    _, admin, _, _ = clients
    job = admin.wait(admin.submit("vm_create", {"name": "it-api-noimage", "image": "it-no-such-image"})["id"])
    assert job["status"] == "failed" and job["failed"] is True and job["rc"] != 0
    assert job["failed_task"]["task"] == "Create the VM" and job["failed_task"]["host"] == "localhost"
    assert job["failed_task"]["field"] == "image" and "it-no-such-image" in job["failed_task"]["msg"]
    assert job["job_explanation"].startswith("Task 'Create the VM' failed on localhost: image: ")


def test_jobs_on_one_target_run_in_order_others_in_parallel(clients, test_operations):
    _, admin, _, _ = clients
    same = [admin.submit("test_sleep", {"name": "it-api-lock1", "seconds": 1})["id"] for _ in range(3)]
    other = admin.submit("test_sleep", {"name": "it-api-lock2", "seconds": 3})["id"]
    jobs = [admin.wait(job_id) for job_id in same]
    parallel = admin.wait(other)
    assert all(job["status"] == "successful" for job in [*jobs, parallel]), jobs
    for before, after in zip(jobs, jobs[1:], strict=False):
        assert before["finished"] <= after["started"], (before, after)  # never overlap, in submission order
    # the other target did not wait for the first target's queue
    assert parallel["started"] < jobs[0]["finished"], (parallel, jobs[0])


def test_reads_answer_while_jobs_run(clients, test_operations):
    _, admin, _, _ = clients
    ids = [admin.submit("test_sleep", {"name": f"it-api-read{n}", "seconds": 3})["id"] for n in range(2)]
    admin.wait(ids[0], until=("running",))
    slowest = 0.0
    for _ in range(20):
        start = time.monotonic()
        assert admin.get("/api/v1/jobs").status_code == 200
        slowest = max(slowest, time.monotonic() - start)
    for job_id in ids:
        assert admin.wait(job_id)["status"] == "successful"
    assert slowest < 2.0  # not blocked behind a job (a job takes 3 s here)


def test_cancel_a_running_job(clients, test_operations):
    _, admin, _, _ = clients
    job = admin.submit("test_sleep", {"name": "it-api-cancel", "seconds": 120})
    running = admin.wait(job["id"], until=("running",))
    pid = clients[0].extensions["vmm"].store.get_job(job["id"])["runner_pid"]
    assert Path(f"/proc/{pid}").exists()
    response = admin.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202 and running["can_cancel"] is True
    canceled = admin.wait(job["id"], timeout=30)
    assert canceled["status"] == "canceled" and canceled["elapsed"] < 60, canceled
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text():
        assert time.monotonic() < deadline, "the runner outlived its job"
        time.sleep(0.1)
    assert admin.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 409


def test_a_job_over_its_timeout_is_stopped(clients, monkeypatch):
    monkeypatch.setitem(OPERATIONS, "test_sleep", dataclasses.replace(TEST_SLEEP, timeout=2))
    _, admin, _, _ = clients
    job = admin.wait(admin.submit("test_sleep", {"name": "it-api-timeout", "seconds": 60})["id"], timeout=40)
    assert job["status"] == "failed" and job["job_explanation"] == "Job terminated due to timeout (2 s)."
    assert job["elapsed"] < 30


def test_relaunch_runs_the_same_operation_again(clients, test_operations):
    _, admin, alice, _ = clients
    first = admin.wait(admin.submit("test_sleep", {"name": "it-api-again", "fail": True})["id"])
    assert first["status"] == "failed" and "failing as asked (it-api-again)" in first["job_explanation"]
    response = admin.post(f"/api/v1/jobs/{first['id']}/relaunch")
    assert response.status_code == 202
    again = admin.wait(response.get_json()["id"])
    assert again["relaunch_of"] == first["id"] and again["vars"] == first["vars"]
    assert again["operation"] == "test_sleep" and again["status"] == "failed" and again["id"] != first["id"]
    assert alice.post(f"/api/v1/jobs/{first['id']}/relaunch").status_code == 403


def test_stdout_follows_a_running_job(clients, test_operations):
    app, admin, _, _ = clients
    job = admin.submit("test_sleep", {"name": "it-api-follow", "seconds": 2})
    admin.wait(job["id"], until=("running",))
    response = app.test_client().get(f"/api/v1/jobs/{job['id']}/stdout?follow=1", headers=admin.headers)
    assert response.status_code == 200
    chunks = list(response.response)  # ends only when the job has ended
    text = "".join(chunk.decode() if isinstance(chunk, bytes) else chunk for chunk in chunks)
    assert admin.job(job["id"])["status"] == "successful"
    assert text.index("TASK [Sleep]") < text.index("PLAY RECAP") and len(chunks) >= 2, chunks
    sse = app.test_client().get(f"/api/v1/jobs/{job['id']}/stdout?follow=true",
                                headers={**admin.headers, "Accept": "text/event-stream"})
    body = sse.get_data(as_text=True)
    assert sse.mimetype == "text/event-stream" and body.startswith("data: ") and body.endswith("event: end\ndata: \n\n")


def test_concurrent_submissions_lose_and_double_nothing(database, make_app):
    # 200 jobs queued by one token: no cap on queued jobs here (test_tokens tests the cap)
    apps = [make_app(database, workers=0, max_queued_per_token=0)
            for _ in range(2 if database.startswith("postgresql") else 1)]
    tokens = [make_token(apps[0], "admin", "admin")]
    errors = []

    def submit(thread):
        client = Client(apps[thread % len(apps)], tokens[0])
        for n in range(25):
            response = client.post("/api/v1/jobs", {"operation": "vm_start", "vars": {"name": f"it-api-c{thread}-{n}"}})
            if response.status_code != 202:
                errors.append(response.get_json())

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listing = Client(apps[0], tokens[0]).get("/api/v1/jobs?page_size=200").get_json()
    assert listing["count"] == 200
    assert sorted(job["target"] for job in listing["results"]) == sorted(
        f"vm:it-api-c{t}-{n}" for t in range(8) for n in range(25))
    assert len({job["id"] for job in listing["results"]}) == 200


def test_two_services_on_one_postgres_queue_never_run_a_job_twice(postgres_url, make_app, test_operations,
                                                                   tmp_path):
    apps = [make_app(postgres_url, workers=2) for _ in range(2)]
    admin = Client(apps[0], make_token(apps[0], "admin", "admin"))
    traces = tmp_path / "traces"
    traces.mkdir()
    ids = [admin.submit("test_sleep", {"name": f"it-api-pg{n % 5}", "marker": f"job{n}", "trace_dir": str(traces)})
           ["id"] for n in range(16)]
    jobs = [admin.wait(job_id, timeout=180) for job_id in ids]
    assert [job["status"] for job in jobs] == ["successful"] * 16
    runs = sorted(path.name.split(".")[0] for path in traces.iterdir())
    assert runs == sorted(f"job{n}" for n in range(16))  # each job ran exactly once
    controllers = {apps[0].extensions["vmm"].store.get_job(job_id)["controller"] for job_id in ids}
    assert len(controllers) == 2  # both services took jobs from the shared queue


def test_metrics(clients, test_operations):
    _, admin, _, _ = clients
    admin.wait(admin.submit("test_sleep", {"name": "it-api-metrics"})["id"])
    queued = admin.submit("test_sleep", {"name": "it-api-metrics2", "seconds": 30})
    text = admin.get("/metrics").get_data(as_text=True)
    admin.post(f"/api/v1/jobs/{queued['id']}/cancel")
    assert 'vmm_jobs{status="successful"} 1.0' in text
    assert 'vmm_job_duration_seconds_count{operation="test_sleep"} 1.0' in text
    assert 'vmm_job_duration_seconds_bucket{le="+Inf",operation="test_sleep"} 1.0' in text
    assert "vmm_job_queue_depth" in text
