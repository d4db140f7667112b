"""The shipped playbooks, run as a user would run them."""

from __future__ import annotations

from .ansible_run import ROOT, run_playbook
from .conftest import vm_files, wait_for_console


def test_create_power_delete_playbooks(image, vm_name):
    base = {"vm_name": vm_name}
    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_create.yml", extra_vars={
        **base, "vm_image": image, "vm_memory": 128, "vm_domain_type": "qemu",
        "vm_cloud_init": {"hostname": "from-playbook"}})
    assert rc == 0, out + err
    wait_for_console(f"/var/log/vmm/console/{vm_name}.log", "VMM-BOOT-OK hostname=from-playbook")

    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_power.yml",
                                extra_vars={**base, "vm_power": "stopped", "vm_shutdown_timeout": 0})
    assert rc == 0, out + err
    assert '"changed": true' in out

    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_power.yml", extra_vars={**base, "vm_power": "sideways"})
    assert rc != 0 and "vm_power: must be running, stopped or restarted" in out

    rc, out, err = run_playbook(ROOT / "playbooks" / "vm_delete.yml", extra_vars=base)
    assert rc == 0, out + err
    assert vm_files(vm_name) == []
