"""schemathesis over the OpenAPI document with workers on: the jobs it generates really run, on the lab.

The document is the served one, narrowed so that generated VMs stay small and recognisable: the VM
operations a user may run, names `rfz-*`, the demo image, at most 2 vCPUs, 192 MiB and 2 GiB, software
emulation, short timeouts. Everything else (networks, consoles, cloud-init, machines, clusters, limits,
cancel, relaunch, negative cases) is generated as the document allows. The narrowing is the test's, not the
server's (a VM of 193 MiB is refused by the bounds here, not by the API), so the check that the server refuses
what the narrowed document forbids is left out; the api step runs it against the real document.
Afterwards every job has ended `successful` or `failed` (or `canceled`, when a generated cancel asked) with an
explanation, never `error`, and every `rfz-*` VM is whole (each of its disks exists) or absent, with no file of
its own left behind; then they are all deleted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from .conftest import Http

ST = Path(sys.executable).parent / "st"
PREFIX = "rfz-"
VM_OPERATIONS = ("vm_create", "vm_delete", "vm_start", "vm_stop", "vm_restart")
BOUNDS = {
    "name": {"type": "string", "pattern": r"^rfz-[a-z0-9]{1,4}$"},
    "image": {"type": "string", "enum": ["tiny", "rfz-none"]},
    "vcpus": {"type": "integer", "minimum": 1, "maximum": 2},
    "max_vcpus": {"type": "integer", "minimum": 1, "maximum": 2},
    "memory": {"type": "integer", "minimum": 96, "maximum": 192},
    "max_memory": {"type": "integer", "minimum": 96, "maximum": 192},
    "disk_size": {"type": "integer", "minimum": 1, "maximum": 2},
    "domain_type": {"type": "string", "enum": ["auto", "qemu"]},  # KVM guests hang on this machine
    "wait_timeout": {"type": "integer", "minimum": 0, "maximum": 5},
    "shutdown_timeout": {"type": "integer", "minimum": 0, "maximum": 3},
}
LEFT_OUT = ("ha",)  # shared-storage disks: the lab tests cover them; here every disk is a node's own


def bounded_document(url):
    document = json.loads(urllib.request.urlopen(f"{url}/api/v1/openapi.json").read())
    schemas = document["components"]["schemas"]
    schemas["JobCreate"]["oneOf"] = [{"$ref": f"#/components/schemas/JobCreate_{op}"} for op in VM_OPERATIONS]
    for op in VM_OPERATIONS:
        properties = schemas[f"JobCreate_{op}"]["properties"]["vars"]["properties"]
        for option, schema in BOUNDS.items():
            if option in properties:
                properties[option] = schema
        for option in LEFT_OUT:
            properties.pop(option, None)
    return document


def cases_run(output):
    match = re.search(r"(\d+) generated", output)
    assert match, output[-3000:]
    return int(match.group(1))


def vm_disks(lab_nodes, node, name):
    xml = lab_nodes.ssh(node, f"virsh dumpxml --inactive {name}").stdout
    return re.findall(r"<source file='([^']+)'", xml)


def test_fuzzed_jobs_really_run_and_leave_no_half_made_vm(lab_nodes, trace_servers, sqlite_url, tmp_path):
    server = trace_servers(sqlite_url, workers=2, inventory=lab_nodes.inventory, follow_timeout=2)
    admin = server.token("admin", "admin")
    user = server.token("fuzz", "user")
    server.start()
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(bounded_document(server.url)))
    result = subprocess.run([str(ST), "run", str(schema), "--url", server.url, "--checks", "all",
                             "--phases", "fuzzing", "--max-examples", "45", "--workers", "2", "--seed", "20261127",
                             "--exclude-checks", "negative_data_rejection",
                             "--exclude-path", "/metrics", "-H", f"Authorization: Bearer {user}"],
                            capture_output=True, text=True, timeout=900, check=False)
    cases = cases_run(result.stdout)

    http = Http(server, admin)
    jobs = http.all_jobs()
    http.wait_all_ended(len(jobs), timeout=1200)
    jobs = http.all_jobs()
    http.close()
    print(f"fuzz: {cases} cases, {len(jobs)} jobs:",
          {s: sum(j["status"] == s for j in jobs) for s in {j["status"] for j in jobs}})
    bad = [j for j in jobs if j["status"] not in ("successful", "failed", "canceled") or
           (j["status"] != "successful" and not j["job_explanation"])]
    assert bad == [], bad
    assert any(j["operation"] == "vm_create" and j["status"] == "successful" for j in jobs), jobs

    # Whole or absent: each rfz- domain's disks all exist; each rfz- file belongs to a domain of its node.
    for node in lab_nodes.nodes("lab"):
        domains = [name for name in lab_nodes.domains(node) if name.startswith(PREFIX)]
        for name in domains:
            for path in vm_disks(lab_nodes, node, name):
                assert lab_nodes.ssh(node, f"test -e {path}").returncode == 0, (node, name, path)
        owners = {re.sub(r"(-seed\.iso|\.qcow2)$", "", f) for f in lab_nodes.files(node, PREFIX)}
        assert owners <= set(domains), (node, owners, domains)
    # Then none is left.
    http = Http(server, admin)
    names = sorted({n for node in lab_nodes.nodes("lab") for n in lab_nodes.domains(node) if n.startswith(PREFIX)})
    deletes = [http.submit("vm_delete", {"name": name})["id"] for name in names]
    http.wait_all_ended(len(jobs) + len(deletes))
    assert all(j["status"] == "successful" for j in http.all_jobs() if j["id"] in deletes)
    http.close()
    lab_nodes.assert_gone(PREFIX)
    # What schemathesis itself found, once the jobs it made are checked and cleaned up.
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert cases >= 300, result.stdout[-3000:]
