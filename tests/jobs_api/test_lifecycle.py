"""A VM's life over HTTP, and an API restarted while a job runs (API servers as real processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from api.operations import OPERATIONS
from api.runner import RunnerJob

from .conftest import Client, make_token

VM = "it-api-vm1"


def test_vm_lifecycle_over_http_for_its_owner_only(make_app, sqlite_url, tiny_image, remove_vm):
    remove_vm.add(VM)
    app = make_app(sqlite_url)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))

    created = alice.wait(alice.submit("vm_create", {"name": VM, "image": tiny_image, "memory": 128,
                                                    "cloud_init": {"hostname": VM}})["id"])
    assert created["status"] == "successful", created
    assert created["owner"] == "alice" and created["launched_by"] == "alice"
    assert created["artifacts"]["vm"]["owner"] == "alice" and created["artifacts"]["vm"]["state"] == "running"
    listed = alice.get("/api/v1/vms").get_json()
    assert [vm["name"] for vm in listed["results"]] == [VM]  # the directory has it from the job's artifacts
    vm = alice.get(f"/api/v1/vms/{VM}").get_json()
    assert (vm["owner"], vm["node"], vm["state"], vm["memory"], vm["vcpus"]) == ("alice", "localhost", "running",
                                                                            128, 1)
    assert vm["disk_size"] > 0 and vm["image"] == tiny_image and [job["id"] for job in vm["jobs"]] == [created["id"]]
    assert bob.get("/api/v1/vms").get_json()["count"] == 0 and bob.get(f"/api/v1/vms/{VM}").status_code == 404

    assert bob.post("/api/v1/jobs", {"operation": "vm_stop", "vars": {"name": VM}}).status_code == 403
    assert bob.post("/api/v1/jobs", {"operation": "vm_create", "vars": {"name": VM, "image": tiny_image}}
                    ).status_code == 403
    assert bob.get(f"/api/v1/jobs/{created['id']}").status_code == 403
    assert bob.get("/api/v1/jobs").get_json()["count"] == 0

    stopped = alice.wait(alice.submit("vm_stop", {"name": VM, "shutdown_timeout": 30})["id"])
    assert stopped["status"] == "successful" and stopped["artifacts"]["vm"]["state"] == "shutoff", stopped
    assert admin.get("/api/v1/vms?owner=alice&state=shutoff").get_json()["results"][0]["name"] == VM
    started = admin.wait(admin.submit("vm_start", {"name": VM})["id"])
    assert started["status"] == "successful" and started["owner"] == "alice"  # admin acts, alice still owns
    assert alice.get(f"/api/v1/jobs/{started['id']}").status_code == 200  # a job on her VM is hers to see
    deleted = alice.wait(alice.submit("vm_delete", {"name": VM})["id"])
    assert deleted["status"] == "successful", deleted
    assert admin.get("/api/v1/vms").get_json()["count"] == 0 and alice.get(f"/api/v1/vms/{VM}").status_code == 404
    assert not list(Path("/var/lib/vmm/disks").glob(f"{VM}*"))


def _http(server, token, method, path, body=None):
    request = urllib.request.Request(server.url + path, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _wait(server, token, job_id, until, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        status, job = _http(server, token, "GET", f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def _runner_pid(database, job_id):
    from api.store import Store
    store = Store(database)
    try:
        return store.get_job(job_id)["runner_pid"]
    finally:
        store.dispose()


def _bootstrap_running(server, database):
    """(admin token, job, runner pid) of a node_bootstrap job `server` runs now."""
    token = server.token("admin", "admin")
    status, job = _http(server, token, "POST", "/api/v1/jobs", {"operation": "node_bootstrap"})
    assert status == 202, job
    _wait(server, token, job["id"], ("running",))
    return token, job, _runner_pid(database, job["id"])


def _kill_api_during_a_job(servers, database):
    """(token, job, runner pid) of a node_bootstrap job whose API process was killed while it ran."""
    first = servers(database).start()
    token, job, pid = _bootstrap_running(first, database)
    first.kill(signal.SIGKILL)
    return token, job, pid


def test_restart_of_the_api_adopts_a_job_whose_runner_lives_on(servers, sqlite_url):
    token, job, pid = _kill_api_during_a_job(servers, sqlite_url)
    assert Path(f"/proc/{pid}").exists()  # the runner does not die with the API

    second = servers(sqlite_url).start()
    done = _wait(second, token, job["id"], ("successful", "failed", "error", "canceled"))
    assert done["status"] == "successful", done
    assert "PLAY RECAP" in urllib.request.urlopen(urllib.request.Request(
        f"{second.url}/api/v1/jobs/{job['id']}/stdout", headers={"Authorization": f"Bearer {token}"})).read().decode()


def test_restart_marks_a_job_whose_runner_died_too(servers, sqlite_url):
    token, job, pid = _kill_api_during_a_job(servers, sqlite_url)
    os.killpg(pid, signal.SIGKILL)

    second = servers(sqlite_url).start()
    done = _wait(second, token, job["id"], ("successful", "failed", "error", "canceled"), timeout=30)
    assert done["status"] == "error", done
    assert "stopped before the job ended" in done["job_explanation"] and "Relaunch" in done["job_explanation"]
    status, relaunched = _http(second, token, "POST", f"/api/v1/jobs/{job['id']}/relaunch")
    assert status == 202 and relaunched["relaunch_of"] == job["id"]
    assert _wait(second, token, relaunched["id"], ("successful", "failed", "error"))["status"] == "successful"


def test_restart_adopts_a_runner_started_just_before_its_api_died(make_app, sqlite_url, test_operations, tmp_path):
    """The gap between starting a job's runner and recording it: the row says `waiting`, no runner pid."""
    trace = tmp_path / "trace"
    trace.mkdir()
    first = make_app(sqlite_url, workers=0)
    store = first.extensions["vmm"].store
    admin = Client(first, make_token(first, "admin", "admin"))
    job = admin.submit("test_sleep", {"name": "gap", "seconds": 2, "marker": "gap", "trace_dir": str(trace)})
    store.update_job(job["id"], status="waiting", controller=f"{socket.gethostname()}:999999999:0:gone")
    claimed = store.get_job(job["id"])
    runner = RunnerJob(first.extensions["vmm"].settings, claimed)
    runner.prepare(OPERATIONS["test_sleep"].extravars(claimed["vars"]))
    handle = runner.spawn(OPERATIONS["test_sleep"].playbook, None)  # ...and the API process dies here

    second = make_app(sqlite_url, data_dir=first.extensions["vmm"].settings.data_dir)
    done = Client(second, make_token(second, "admin2", "admin")).wait(job["id"], timeout=120)
    handle.wait(30)
    assert done["status"] == "successful", done
    assert store.get_job(job["id"])["runner_pid"] == handle.pid
    assert [path.name.split(".")[0] for path in trace.iterdir()] == ["gap"]  # it ran once, adopted, not again


def test_serving_alone_beside_a_job_service_process(servers, sqlite_url):
    """`serve` with no workers queues; `python -m api work` runs what it queued, and stops on SIGTERM."""
    server = servers(sqlite_url, workers=0).start()
    token = server.token("admin", "admin")
    status, job = _http(server, token, "POST", "/api/v1/jobs", {"operation": "node_info", "limit": "localhost"})
    assert status == 202, job
    time.sleep(2)  # several polls of a worker, had the serving process any
    assert _http(server, token, "GET", f"/api/v1/jobs/{job['id']}")[1]["status"] == "pending"

    work = server.start_job_service(workers=2)
    done = _wait(server, token, job["id"], ("successful", "failed", "error", "canceled"), timeout=120)
    assert done["status"] == "successful", done
    assert done["artifacts"]["nodes"]["localhost"]["libvirtd_alive"] is True, done["artifacts"]
    work.send_signal(signal.SIGTERM)
    assert work.wait(30) == 0

    refused = server.cli("work", check=False)  # a job service with no workers is a mistake, said so
    assert refused.returncode == 2 and "VMM_API_WORKERS is 0" in refused.stderr


def _policy(tid):
    return os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK


def _descendants(pid):
    """pid and the processes under it."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def test_requests_are_served_real_time_and_jobs_run_normal(servers, sqlite_url):
    """serve's request threads in SCHED_RR (requests never wait behind the jobs' playbooks for a time slice),
    the job's runner and its playbook back in the normal class at VMM_API_JOB_NICE. Control: a server with
    VMM_API_SERVE_RT_PRIORITY=0 stays normal."""
    server = servers(sqlite_url).start()
    token, job, runner = _bootstrap_running(server, sqlite_url)
    deadline = time.monotonic() + 60
    while len(members := _descendants(runner)) < 2:  # the runner and its ansible-playbook
        assert time.monotonic() < deadline, (members, _http(server, token, "GET", f"/api/v1/jobs/{job['id']}"))
        time.sleep(0.05)
    seen = {}
    for member in members:
        try:
            seen[member] = (_policy(member), os.getpriority(os.PRIO_PROCESS, member))
        except ProcessLookupError:  # one of the playbook's own forks, ended since
            continue
    assert runner in seen and set(seen.values()) == {(os.SCHED_OTHER, 10)}, seen
    for _ in range(20):
        assert _http(server, token, "GET", "/api/v1/me")[0] == 200
    pid = server.process.pid
    threads = {int(task.name): _policy(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()}
    assert threads[pid] == os.SCHED_RR, threads  # waitress's own thread: reads and dispatches requests
    assert list(threads.values()).count(os.SCHED_RR) >= 2, threads  # and the worker(s) that served /me
    assert os.sched_getparam(pid).sched_priority == 1
    assert os.SCHED_OTHER in threads.values(), threads  # the job workers' threads are not real-time
    _wait(server, token, job["id"], ("successful", "failed", "error", "canceled"))

    normal = servers(sqlite_url, serve_rt_priority=0).start()
    assert _http(normal, token, "GET", "/api/v1/me")[0] == 200
    policies = {_policy(int(task.name)) for task in Path(f"/proc/{normal.process.pid}/task").iterdir()}
    assert policies == {os.SCHED_OTHER}, policies
