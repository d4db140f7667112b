"""Client data is data: template payloads in every string option of every operation, run for real.

The option list is derived from the operations' schemas, so an option added
tomorrow is covered the day it is added. For each string option (nested lists
and objects included, free-form objects with the payload as keys and values)
and each payload form, the API either refuses the value with a 400 naming that
option, or accepts it: then the job really runs (as a user and as an admin, and
once more through a relaunch), no marker file is ever made, and the exact
characters arrive where they belong (the VM's seed, its domain definition).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import libvirt
import pytest
from lxml import etree

from api.operations import OPERATIONS

from .conftest import Client, make_token


def payload_forms(marker_dir):
    """Template payloads; those that would run something touch a file under `marker_dir`."""
    touch = f"touch {marker_dir}/ran"
    return [
        f"{{{{ lookup('pipe', '{touch}0') }}}}",
        f"{{% set _ = lookup('ansible.builtin.pipe', '{touch}1') %}}",
        f"{{{{ query('pipe', '{touch}2') | first | default('') }}}}{{# note #}}",
        f"{{% raw %}}{{% endraw %}}{{{{ q('pipe', '{touch}3') }}}}",
        "{{ lookup('file', '/etc/hostname') }}",  # would leak a controller file, not run one
        "{{7*7}}",  # short enough for a VNC password: must arrive as 7 characters, not as 49
        "{%x%}",
    ]


# A valid value for each leaf option a payload is not in (so that only the payload can be refused).
FILLERS = {"name": "inj-fill", "image": "it-tiny", "owner": "alice", "target": "node1", "node": "node1",
           "cluster": "local", "network": "default", "bridge": "br0", "routed": "192.0.2.10",
           "mac": "52:54:00:0a:0b:0c", "hostname": "inj-fill", "fqdn": "inj-fill.example.org",
           "listen": "127.0.0.1", "machine": "pc", "password": "secret",
           "ssh_authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 k", "ipv4": "none", "ipv6": "none",
           "address": "auto", "snapshot": "inj-snap", "iso": "inj-iso", "managed_disks": "vda"}
# Options whose format leaves room for free text somewhere: the payload is also tried in that room.
SHAPES = {"ssh_authorized_keys": lambda payload: f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 {payload}"}


def leaf_name(path):
    return next((p for p in reversed(path) if isinstance(p, str)), "")


def slots(schema, path=()):
    """(path, kind) of every string option and every free-form object in `schema`."""
    kind = schema.get("type")
    if kind == "string" and "enum" not in schema:
        yield path, "string"
    elif kind == "object" and "properties" in schema:
        for name, option in schema["properties"].items():
            yield from slots(option, (*path, name))
    elif kind == "object":
        yield path, "object"
    elif kind == "array":
        yield from slots(schema["items"], (*path, 0))


def _filler(schema, leaf):
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    return {"string": FILLERS.get(leaf, "x"), "integer": schema.get("minimum", 1), "boolean": False,
            "object": {}, "array": []}[schema["type"]]


def _complete(schema, value):
    """`value` (an object) with its schema's required options, and one NIC kind where a NIC needs one."""
    for name in schema.get("required", []):
        value.setdefault(name, _filler(schema["properties"][name], name))
    alternatives = [alt["required"][0] for alt in schema.get("oneOf", [])]
    if alternatives and not set(alternatives) & set(value):
        value[alternatives[0]] = FILLERS[alternatives[0]]
    return value


def place(schema, path, leaf_value):
    """The smallest vars of `schema` holding `leaf_value` at `path`, the rest filled with valid values."""
    if not path:
        return leaf_value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [place(schema["items"], rest, leaf_value)]
    return _complete(schema, {head: place(schema["properties"][head], rest, leaf_value)})


def _free_object(payload):
    return {payload: [payload, {"k": payload}], "plain": payload}


def field_name(path):
    return "vars" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def cases(marker_dir):
    """{operation: (refused [(path, payload, vars)], accepted {form index: [(path, payload)]})}."""
    result = {}
    for name, operation in OPERATIONS.items():
        refused, accepted = [], {}
        for path, kind in slots(operation.schema):
            leaf = leaf_name(path)
            baseline = place(operation.schema, path, {} if kind == "object" else FILLERS.get(leaf, "x"))
            jsonschema.validate(baseline, operation.schema)  # a new option needs a FILLERS entry
            for index, payload in enumerate(payload_forms(marker_dir)):
                values = [_free_object(payload)] if kind == "object" else [payload]
                if leaf in SHAPES:
                    values.append(SHAPES[leaf](payload))
                for value in values:
                    variables = place(operation.schema, path, value)
                    if jsonschema.Draft202012Validator(operation.schema).is_valid(variables):
                        accepted.setdefault(index, []).append((path, value))
                    else:
                        refused.append((path, value, variables))
        result[name] = (refused, accepted)
    return result


def merged(schema, placed):
    """One vars object holding every (path, value) of `placed`."""
    variables = {}
    for path, value in placed:
        _merge(variables, place(schema, path, value))
    return variables


def _merge(into, other):
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = value


# --- where a value belongs, per operation --------------------------------------------------------


def _domain(name):
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(name)
        return etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
    finally:
        conn.close()


def _seed_file(iso, name):
    return subprocess.run(["isoinfo", "-i", iso, "-R", "-x", f"/{name}"], capture_output=True, check=True).stdout


def vm_create_arrived(variables, job):
    """The seed and the domain of the VM hold exactly what the client sent."""
    assert job["artifacts"]["vm"]["name"] == variables["name"], job
    xml = _domain(variables["name"])
    isos = [d.find("source").get("file") for d in xml.iterfind("devices/disk/source/..")
            if d.find("source").get("file", "").endswith("-seed.iso")]
    assert len(isos) == 1, etree.tostring(xml)
    user_data = _seed_file(isos[0], "user-data").decode()
    assert user_data.startswith("#cloud-config\n")
    config = json.loads(user_data.split("\n", 1)[1])
    sent = variables.get("cloud_init", {})
    if "password" in sent:
        assert config["password"] == sent["password"]
    for key in sent.get("ssh_authorized_keys", []):
        assert key in config["ssh_authorized_keys"]
    for key, value in sent.get("user_data", {}).items():
        assert config[key] == value
    if "network_config" in sent:
        assert json.loads(_seed_file(isos[0], "network-config")) == sent["network_config"]
    if "password" in variables.get("console", {}):
        assert xml.find("devices/graphics").get("passwd") == variables["console"]["password"]


def vm_snapshot_arrived(variables, job):
    """The snapshot's description in libvirt, and in what the job reported, is what the client sent."""
    conn = libvirt.open("qemu:///system")
    try:
        snapshot = conn.lookupByName(variables["name"]).snapshotLookupByName(variables["snapshot"], 0)
        assert etree.fromstring(snapshot.getXMLDesc(0)).findtext("description") == variables["description"]
    finally:
        conn.close()
    reported = {snap["name"]: snap for snap in job["artifacts"]["snapshots"]}
    assert reported[variables["snapshot"]]["description"] == variables["description"], job["artifacts"]


ARRIVED = {"vm_create": vm_create_arrived, "vm_reinstall": vm_create_arrived, "vm_snapshot": vm_snapshot_arrived}
# The vars the test sets itself, per operation: the VM and what it is made of. Operations other than vm_create act on
# a VM the same user made first.
OWN_VARS = {"vm_create": lambda name, image: {"name": name, "image": image, "memory": 128},
            "vm_reinstall": lambda name, image: {"name": name, "image": image},
            "vm_snapshot": lambda name, image: {"name": name}}


BATCH = 3
# A user runs every form; an admin (whose data takes the same path) the longest and the shortest, to keep it quick.
ROLE_FORMS = {"admin": (0, 5)}

# --- the test ------------------------------------------------------------------------------------


def _delete_all(vms):
    jobs = [(client, client.submit("vm_delete", {"name": name})["id"]) for client, name in vms]
    for client, job_id in jobs:
        done = client.wait(job_id, timeout=600)
        assert done["status"] == "successful", done


@pytest.fixture
def marker_dir():
    """A short directory path, so that payloads naming it fit the options' length limits."""
    path = Path(tempfile.mkdtemp(prefix="vmm-inj-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


def test_template_payloads_are_refused_or_arrive_literally(make_app, sqlite_url, tiny_image, marker_dir, remove_vm):
    app = make_app(sqlite_url)
    users = {"user": Client(app, make_token(app, "alice", "user")),
             "admin": Client(app, make_token(app, "admin", "admin"))}
    plan = cases(marker_dir)
    refused_count = sum(len(refused) for refused, _ in plan.values())
    assert refused_count and plan["vm_create"][1], "no payload was refused, or none reached vm_create"

    for name, (refused, accepted) in plan.items():
        for path, payload, variables in refused:
            for client in users.values():
                response = client.post("/api/v1/jobs", {"operation": name, "vars": variables})
                assert response.status_code == 400, (name, path, payload, response.get_json())
                assert response.get_json()["field"].startswith(field_name(path)), (name, path, response.get_json())
        if accepted:
            assert name in ARRIVED, f"{name} takes free text at {accepted}: add a check of where it arrives"
        for node_limit in payload_forms(marker_dir):
            body = {"operation": name, "vars": _complete(OPERATIONS[name].schema, {}), "limit": node_limit}
            response = users["admin"].post("/api/v1/jobs", body)
            assert response.status_code == 400 and response.get_json()["field"] == "limit", response.get_json()

    assert users["admin"].get("/api/v1/jobs").get_json()["count"] == 0  # nothing refused became a job

    planned = []
    for role, client in users.items():
        for name, (_, accepted) in plan.items():
            for index, placed in sorted(accepted.items()):
                if index not in ROLE_FORMS.get(role, (index,)):
                    continue
                variables = merged(OPERATIONS[name].schema, placed)
                variables.update(OWN_VARS[name](f"inj-{role[0]}{name[3]}{index}", tiny_image))
                planned.append((client, name, variables))
    ran = []
    for batch in range(0, len(planned), BATCH):  # a few VMs at a time: the node has room for a few only
        jobs = []
        made = []
        for client, name, variables in planned[batch:batch + BATCH]:
            if name != "vm_create":  # the VM it acts on, the same user's
                remove_vm.add(variables["name"])
                made.append((client, client.submit("vm_create", OWN_VARS["vm_create"](variables["name"],
                                                                                      tiny_image))["id"]))
        for client, job_id in made:
            assert client.wait(job_id, timeout=600)["status"] == "successful"
        for client, name, variables in planned[batch:batch + BATCH]:
            remove_vm.add(variables["name"])
            jobs.append((client, name, variables, client.submit(name, variables)["id"]))
        for client, name, variables, job_id in jobs:
            done = client.wait(job_id, timeout=600)
            assert done["status"] == "successful", (done["job_explanation"], variables)
            ARRIVED[name](variables, done)
        _delete_all([(client, variables["name"]) for client, _, variables, _ in jobs])
        ran.extend(jobs)

    relaunch_of = ran[0][3]
    relaunched = users["admin"].wait(users["admin"].post(f"/api/v1/jobs/{relaunch_of}/relaunch").get_json()["id"],
                                     timeout=300)
    assert relaunched["status"] == "successful", relaunched
    ARRIVED[ran[0][1]](ran[0][2], relaunched)
    _delete_all([(users["admin"], ran[0][2]["name"])])

    assert len(ran) == len(planned) and {name for _, name, _, _ in ran} == set(ARRIVED)
    assert list(marker_dir.iterdir()) == []
