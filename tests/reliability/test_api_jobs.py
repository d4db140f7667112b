"""The jobs API under load and under a kill -9: every job recorded, run exactly once, in order per target.

Real API server processes (`python -m api serve`, with the tests' `test_sleep` operation); each
test_sleep run leaves a trace file `<marker>.<random>` whose count and time prove what really ran.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from .conftest import FINISHED, Http, traces

CLIENTS = 20
PER_CLIENT = 10
TARGETS = 8


def _submit_from(server, token, client, trace_dir, submitted, errors):
    http = Http(server, token)
    try:
        for seq in range(PER_CLIENT):
            target = f"t{(client + seq) % TARGETS}"
            marker = f"c{client}s{seq}"
            job = http.submit("test_sleep", {"name": target, "marker": marker, "trace_dir": str(trace_dir)})
            submitted.append((job["id"], target, marker, client, seq))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))
    finally:
        http.close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_200_submissions_from_20_clients_run_once_each_in_order_per_target(request, trace_servers, tmp_path, db):
    database = request.getfixturevalue("sqlite_url" if db == "sqlite" else "postgres_url")
    # one admin token for the 20 clients, as a billing system would have: no cap on its queued jobs here
    # (the cap has tests of its own in tests/jobs_api/test_tokens.py)
    server = trace_servers(database, workers=4, max_queued_per_token=0)
    token = server.token("load", "admin")
    server.start()
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    submitted, errors = [], []
    threads = [threading.Thread(target=_submit_from, args=(server, token, c, trace_dir, submitted, errors))
               for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(submitted) == CLIENTS * PER_CLIENT

    http = Http(server, token)
    jobs = {job["id"]: job for job in http.wait_all_ended(len(submitted))}
    http.close()
    # Recorded: one job per submission, with the variables it was given.
    assert sorted(jobs) == sorted(job_id for job_id, *_ in submitted)
    assert all(jobs[job_id]["vars"]["marker"] == marker for job_id, _t, marker, *_ in submitted)
    assert {job["status"] for job in jobs.values()} == {"successful"}
    # Run exactly once: one trace per job, none without a job.
    runs = traces(trace_dir)
    assert sorted(runs) == sorted(marker for _id, _t, marker, *_ in submitted)
    assert {len(times) for times in runs.values()} == {1}
    # Order per target: by submission (job id) the traces follow one another, and each client's own
    # submissions to a target got increasing ids.
    for target in {t for _id, t, *_ in submitted}:
        mine = sorted((job_id, marker, client, seq) for job_id, t, marker, client, seq in submitted if t == target)
        assert [runs[marker][0] for _id, marker, *_ in mine] == sorted(runs[marker][0] for _id, marker, *_ in mine)
        for client in {c for *_, c, _s in mine}:
            seqs = [seq for _id, _m, c, seq in mine if c == client]
            assert seqs == sorted(seqs)


def test_api_killed_with_jobs_queued_and_running_ends_every_job_once(trace_servers, sqlite_url, tmp_path):
    first = trace_servers(sqlite_url, workers=2)
    token = first.token("admin", "admin")
    first.start()
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    http = Http(first, token)
    # Two targets, three jobs each: the first of each runs (2 workers), the others wait behind it.
    submitted = [http.submit("test_sleep", {"name": f"k{i % 2}", "marker": f"k{i}", "seconds": 4,
                                             "trace_dir": str(trace_dir)})["id"] for i in range(6)]
    running = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = {job["id"]: job["status"] for job in http.all_jobs()}
        running = [job_id for job_id, status in statuses.items() if status == "running"]
        if len(running) == 2:
            break
        time.sleep(0.1)
    assert len(running) == 2, statuses
    assert sum(status == "pending" for status in statuses.values()) == 4, statuses
    http.close()
    first.kill(signal.SIGKILL)

    second = trace_servers(sqlite_url, workers=2).start()
    http = Http(second, token)
    jobs = {job["id"]: job for job in http.wait_all_ended(len(submitted), timeout=300)}
    http.close()
    assert all(job["status"] in FINISHED for job in jobs.values())
    assert {job["status"] for job in jobs.values()} == {"successful"}, jobs
    runs = traces(trace_dir)
    assert sorted(runs) == sorted(f"k{i}" for i in range(6))
    assert {len(times) for times in runs.values()} == {1}  # none ran twice, none was lost
    for target in ("k0", "k1"):
        ids = sorted(job_id for job_id, job in jobs.items() if job["vars"]["name"] == target)
        assert [runs[jobs[i]["vars"]["marker"]][0] for i in ids] == sorted(runs[jobs[i]["vars"]["marker"]][0]
                                                                           for i in ids)
