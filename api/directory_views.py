"""Routes of the VM directory: /api/v1/vms, /nodes and /pools, read from the store alone (no job, no node;
/pools also reads the pools' declarations from the inventory)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request, url_for

from . import validation
from .auth import require_admin, require_user
from .errors import ApiError
from .views import _time, job_json, page_json

bp = Blueprint("api_v1_directory", __name__, url_prefix="/api/v1")
bp.before_request(require_user)
RECENT_JOBS = 20


def services():
    return current_app.extensions["vmm"]


def vm_json(vm, base):
    return {"name": vm["name"], "url": f"{base}/{vm['name']}", "uuid": vm["uuid"],
            "node": vm["node"], "owner": vm["owner"], "state": vm["state"], "vcpus": vm["vcpus"],
            "memory": vm["memory"], "disk_size": vm["disk_size"], "addresses": vm["addresses"], "image": vm["image"],
            "cluster": vm["cluster"], "ha": vm["ha"], "rescue": vm["rescue"], "iso": vm["iso"],
            "last_seen": _time(vm["last_seen"])}


def node_json(node):
    return {"name": node["name"], "cluster": node["cluster"], "reachable": node["reachable"],
            "health": node["health"], "maintenance": node["maintenance"], "cpus": node["cpus"],
            "vcpus_used": node["vcpus_used"], "memory_total": node["memory_total"], "memory_free": node["memory_free"],
            "disk_free": node["disk_free"], "vm_count": node["vm_count"], "last_seen": _time(node["last_seen"]),
            "updated": _time(node["updated"])}


@bp.get("/vms")
def vm_list():
    page, size = validation.page_args(request.args, services().settings)
    filters = validation.vm_filters(request.args)
    count, vms = services().store.list_vms(filters, visible_to=services().access.visible_to(g.user),
                                           offset=(page - 1) * size, limit=size)
    base = url_for("api_v1_directory.vm_list")  # once: url_for per row would be a third of the request
    return jsonify(page_json(count, [vm_json(vm, base) for vm in vms], page, size))


@bp.get("/vms/<name>")
def vm_detail(name):
    vm = services().store.get_vm(_checked_name(name))
    if vm is None or not services().access.can_see_vm(g.user, vm):
        raise ApiError(404, f"No VM {name[:64]} is yours to see.")  # the same for another's VM: nothing leaks
    _, jobs = services().store.list_jobs({"target": f"vm:{name}"}, visible_to=services().access.visible_to(g.user),
                                         limit=RECENT_JOBS)
    return jsonify({**vm_json(vm, url_for("api_v1_directory.vm_list")), "jobs": [job_json(job) for job in jobs]})


def _vm_records(name, key):
    """The VM's `key` (snapshots or backups) as the last job of that kind left them in the directory."""
    vm = services().store.get_vm(_checked_name(name))
    if vm is None or not services().access.can_see_vm(g.user, vm):
        raise ApiError(404, f"No VM {name[:64]} is yours to see.")
    records = vm.get(key) or []
    return jsonify({"vm": vm["name"], "count": len(records), "results": records, "known": vm.get(key) is not None})


@bp.get("/vms/<name>/snapshots")
def vm_snapshots(name):
    """The VM's snapshots, oldest first, as its last vm_snapshot or vm_reinstall job saw them."""
    return _vm_records(name, "snapshots")


@bp.get("/vms/<name>/backups")
def vm_backups(name):
    """The VM's backups, oldest first, as its last vm_backup or vm_restore job saw them."""
    return _vm_records(name, "backups")


@bp.get("/nodes")
def node_list():
    require_admin()
    nodes = [node_json(node) for node in services().store.list_nodes()]
    return jsonify({"count": len(nodes), "next": None, "previous": None, "results": nodes})


@bp.get("/pools")
def pool_list():
    require_admin()
    pools = services().pools.pools()
    return jsonify({"count": len(pools), "next": None, "previous": None, "results": pools})


def _checked_name(name):
    if not validation.NAME_RE.match(name) or len(name) > 64:
        raise ApiError(400, "name: 1-64 letters, digits, '.', '_' or '-'", field="name")
    return name


@bp.get("/users/<name>/quota")
def quota_detail(name):
    _checked_name(name)
    if g.user["role"] != "admin" and g.user["name"] != name:
        raise ApiError(403, "You may see your own quota only.")
    return jsonify(services().access.quotas.report(name))


@bp.put("/users/<name>/quota")
def quota_update(name):
    require_admin()
    _checked_name(name)
    services().store.set_quota(name, validation.quota_body(validation.json_body(request)))
    return jsonify(services().access.quotas.report(name))
