"""Run vmm modules the way users do: through ansible-playbook, on the local node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env():
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{BIN}:{env.get('PATH', '')}")
    return env


def run_playbook(path, *args, extra_vars=None):
    """(returncode, stdout, stderr) of ansible-playbook on the local inventory."""
    argv = [str(BIN / "ansible-playbook"), str(path), *args]
    if extra_vars is not None:
        argv += ["-e", json.dumps(extra_vars)]
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=600,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def run_tasks(tasks, check=False, diff=False):
    """Registered results of several (module, args) tasks run in one playbook, in order.

    Failed tasks come back as results with `failed: true`, never as
    exceptions, so a test can assert on the message.
    """
    body = [{"name": f"task {i}", module: args, "ignore_errors": True} for i, (module, args) in enumerate(tasks)]
    play = [{"name": "test", "hosts": "vmm_nodes", "gather_facts": False, "tasks": body}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT / "tests" / "integration", delete=False) as handle:
        json.dump(play, handle)
    try:
        flags = (["--check"] if check else []) + (["--diff"] if diff else [])
        rc, out, err = run_playbook(handle.name, *flags)
    finally:
        os.unlink(handle.name)
    try:
        report = json.loads(out)
    except ValueError as exc:
        raise AssertionError(f"ansible-playbook rc={rc}\nstdout:\n{out}\nstderr:\n{err}") from exc
    results = []
    for task in report["plays"][0]["tasks"]:
        hosts = task["hosts"]
        assert len(hosts) == 1, hosts
        results.append(next(iter(hosts.values())))
    assert len(results) == len(tasks), report
    return results


def run_task(module, args, check=False, diff=False):
    """The registered result of one task of `module` with `args` (a dict)."""
    return run_tasks([(module, args)], check=check, diff=diff)[0]
