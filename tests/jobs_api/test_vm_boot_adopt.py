"""Rescue mode and ISO boot over HTTP (vm_rescue, vm_iso) for the VM's owner, adoption (vm_adopt) for administrators:
real jobs on this node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import libvirt
import pytest

from integration.ansible_run import run_task
from integration.conftest import wait_for_console

from .conftest import Client, make_token

VM = "it-api-rescue1"
RESCUE = "it-api-rescue"
PAYLOAD = "{{ lookup('pipe', 'touch /tmp/vmm-iso-pwned') }}"


@pytest.fixture
def rescue_iso(tiny_image):
    """The demo rescue CD in the store (beside the demo image the build made)."""
    image = Path(run_task("vmm.cloud.image_info", {"name": tiny_image})["images"][0]["source"])
    registered = run_task("vmm.cloud.image", {"name": RESCUE, "src": str(image.parent / "vmm-rescue.iso")})
    assert registered["image"]["kind"] == "iso", registered
    yield RESCUE
    run_task("vmm.cloud.image", {"name": RESCUE, "state": "absent"})


def test_rescue_mode_and_iso_boot_over_http(make_app, sqlite_url, tiny_image, rescue_iso, remove_vm, tmp_path):
    remove_vm.add(VM)
    Path("/tmp/vmm-iso-pwned").unlink(missing_ok=True)
    inventory = tmp_path / "hosts.yml"  # this node, with the test's rescue ISO
    inventory.write_text(json.dumps({"all": {"children": {"vmm_nodes": {
        "vars": {"vmm_rescue_image": rescue_iso},
        "children": {"cluster_local": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}}}))
    app = make_app(sqlite_url, inventory=str(inventory))
    alice, bob = (Client(app, make_token(app, name, "user")) for name in ("alice", "bob"))
    console = f"/var/log/vmm/console/{VM}.log"
    created = alice.wait(alice.submit("vm_create", {"name": VM, "image": tiny_image, "memory": 128})["id"])
    assert created["status"] == "successful", created
    wait_for_console(console, "VMM-BOOT-OK")

    assert bob.post("/api/v1/jobs", {"operation": "vm_rescue", "vars": {"name": VM}}).status_code == 403
    assert bob.post("/api/v1/jobs", {"operation": "vm_iso", "vars": {"name": VM, "iso": rescue_iso}}
                    ).status_code == 403
    for bad in (PAYLOAD, "../etc/passwd", "/var/lib/vmm/images/x.iso", "a'b"):
        answer = alice.post("/api/v1/jobs", {"operation": "vm_iso", "vars": {"name": VM, "iso": bad}})
        assert answer.status_code == 400 and answer.get_json()["field"] == "vars.iso", (bad, answer.get_json())
    image = alice.post("/api/v1/jobs", {"operation": "vm_rescue", "vars": {"name": VM, "image": "/etc/passwd"}})
    assert image.status_code == 400, image.get_json()  # the rescue ISO is the inventory's, never a client's

    rescued = alice.wait(alice.submit("vm_rescue", {"name": VM, "shutdown_timeout": 5})["id"], timeout=300)
    assert rescued["status"] == "successful", rescued
    assert rescued["artifacts"]["vm"]["rescue"] == rescue_iso and rescued["artifacts"]["vm"]["state"] == "running"
    assert "vda:" in wait_for_console(console, "VMM-RESCUE")
    assert alice.get(f"/api/v1/vms/{VM}").get_json()["rescue"] == rescue_iso
    back = alice.wait(alice.submit("vm_rescue", {"name": VM, "rescue": False, "shutdown_timeout": 5})["id"],
                      timeout=300)
    assert back["status"] == "successful" and back["artifacts"]["vm"]["rescue"] is None, back
    wait_for_console(console, "VMM-BOOT-OK")
    assert alice.get(f"/api/v1/vms/{VM}").get_json()["rescue"] is None

    booted = alice.wait(alice.submit("vm_iso", {"name": VM, "iso": rescue_iso, "shutdown_timeout": 5})["id"],
                        timeout=300)
    assert booted["status"] == "successful" and booted["artifacts"]["vm"]["iso"] == rescue_iso, booted
    wait_for_console(console, "VMM-RESCUE")
    ejected = alice.wait(alice.submit("vm_iso", {"name": VM, "iso": "", "restart": False})["id"], timeout=300)
    assert ejected["status"] == "successful" and ejected["artifacts"]["vm"]["iso"] is None, ejected
    assert alice.get(f"/api/v1/vms/{VM}").get_json()["iso"] is None
    assert not Path("/tmp/vmm-iso-pwned").exists()


FOREIGN = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
    <target dev='vda' bus='virtio'/></disk>
    <serial type='pty'><log file='/var/log/vmm/console/{name}.log' append='off'/><target port='0'/></serial>
  </devices></domain>"""


def test_adoption_over_http_is_for_administrators(make_app, sqlite_url, tiny_image, remove_vm):
    vm = "it-api-adopt1"
    remove_vm.add(vm)
    base = Path(run_task("vmm.cloud.image_info", {"name": tiny_image})["images"][0]["path"])
    disk = Path(f"/var/lib/vmm/disks/{vm}-legacy.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(disk)], check=True)
    conn = libvirt.open("qemu:///system")
    try:
        conn.defineXML(FOREIGN.format(name=vm, disk=disk)).create()
    finally:
        conn.close()
    app = make_app(sqlite_url)
    admin = Client(app, make_token(app, "admin", "admin"))
    alice = Client(app, make_token(app, "alice", "user"))
    answer = alice.post("/api/v1/jobs", {"operation": "vm_adopt", "vars": {"name": vm, "owner": "alice"}})
    assert answer.status_code == 403, answer.get_json()
    for bad in ("vda; reboot", PAYLOAD, "../vda"):
        answer = admin.post("/api/v1/jobs", {"operation": "vm_adopt", "vars": {"name": vm, "managed_disks": [bad]}})
        field = answer.get_json()["field"]
        assert answer.status_code == 400 and field.startswith("vars.managed_disks"), answer.get_json()

    adopted = admin.wait(admin.submit("vm_adopt", {"name": vm, "owner": "alice", "managed_disks": ["vda"]})["id"])
    assert adopted["status"] == "successful", adopted
    assert adopted["artifacts"]["vm"]["adopted"] and adopted["artifacts"]["vm"]["state"] == "running"
    listed = alice.get(f"/api/v1/vms/{vm}").get_json()
    assert listed["owner"] == "alice" and listed["image"] is None, listed
    stopped = alice.wait(alice.submit("vm_stop", {"name": vm, "shutdown_timeout": 0})["id"])
    assert stopped["status"] == "successful" and stopped["artifacts"]["vm"]["state"] == "shutoff", stopped
    deleted = alice.wait(alice.submit("vm_delete", {"name": vm})["id"])
    assert deleted["status"] == "successful" and not disk.exists(), deleted  # vda was marked vmm's
