# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of every vmm.cloud module, one constant per module.

The modules, the placement action plugin and the API's JSON schemas read the
same dicts from here, so nothing outside plugins/modules imports a module
file. Only the standard library may be imported here (nothing at all today):
the API and the controller load this file without libvirt or lxml.
Each module's DOCUMENTATION must describe exactly its spec (ansible-test
validate-modules compares them).
"""

from __future__ import annotations

URI_OPTION = {"type": "str", "default": "qemu:///system"}

# vm_migrate's `storage`; Migration checks its argument against the same tuple.
STORAGE_MODES = ("auto", "shared", "copy")

NIC_OPTIONS = {
    "network": {"type": "str"},
    "bridge": {"type": "str"},
    "routed": {"type": "str"},
    "mac": {"type": "str"},
    "model": {"type": "str", "choices": ["virtio", "e1000", "rtl8139"], "default": "virtio"},
    "ipv4": {"type": "str"},
    "ipv6": {"type": "str"},
}
CLOUD_INIT_OPTIONS = {
    "hostname": {"type": "str"},
    "fqdn": {"type": "str"},
    "ssh_authorized_keys": {"type": "list", "elements": "str", "no_log": False},
    "password": {"type": "str", "no_log": True},
    "network_config": {"type": "dict"},
    "user_data": {"type": "dict"},
}
CONSOLE_OPTIONS = {
    "type": {"type": "str", "choices": ["vnc", "none"], "default": "vnc"},
    "listen": {"type": "str", "default": "127.0.0.1"},
    "password": {"type": "str", "no_log": True},
}
DATA_DISK_OPTIONS = {
    "name": {"type": "str", "required": True},
    "size": {"type": "int"},
    "pool": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
PLACEMENT_POLICY_OPTIONS = {
    "cpu_overcommit": {"type": "float", "default": 4.0},
    "memory_overcommit": {"type": "float", "default": 1.0},
    "memory_reserve_mib": {"type": "int", "default": 256},
    "disk_reserve_gib": {"type": "int", "default": 1},
}

HA_INFO_SPEC = {}

HA_VM_SPEC = {
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "state": {"type": "str", "choices": ["running", "released"], "default": "running"},
}

IMAGE_SPEC = {
    "name": {"type": "str", "required": True},
    "src": {"type": "str"},
    "vm": {"type": "str"},
    "checksum": {"type": "str"},
    "os": {"type": "str"},
    "description": {"type": "str"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "uri": URI_OPTION,
    "image_pool": {"type": "str", "default": "vmm-images"},
}

IMAGE_INFO_SPEC = {
    "name": {"type": "str"},
    "uri": URI_OPTION,
    "image_pool": {"type": "str", "default": "vmm-images"},
}

NODE_INFO_SPEC = {
    "uri": URI_OPTION,
    "probe_image": {"type": "path"},
    "probe_types": {"type": "list", "elements": "str", "choices": ["kvm", "qemu"], "default": ["kvm", "qemu"]},
    "probe_timeout": {"type": "int", "default": 20},
    "probe_marker": {"type": "str", "default": "VMM-SEED"},
    "probe_dir": {"type": "path", "default": "/var/lib/vmm/disks"},
}

NODE_MAINTENANCE_SPEC = {
    "enabled": {"type": "bool", "default": True},
    "reason": {"type": "str"},
}

PLACEMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "nodes": {"type": "dict", "default": {}},
    "candidates": {"type": "list", "elements": "str"},
    "facts_var": {"type": "str", "default": "vmm_node_facts"},
    "memory": {"type": "int", "default": 512},
    "vcpus": {"type": "int", "default": 1},
    "disk_size": {"type": "int", "default": 1},
    "pool": {"type": "str", "default": "vmm"},
    "policy": {"type": "dict", "default": {}, "options": PLACEMENT_POLICY_OPTIONS},
    "state": {"type": "str", "choices": ["reserved", "released"], "default": "reserved"},
    "ledger": {"type": "path", "default": "/var/lib/vmm/placement/reservations.json"},
    "ttl": {"type": "int", "default": 900},
    "created": {"type": "bool", "default": False},
    "facts_since": {"type": "float"},
    "ip_pools": {"type": "list", "elements": "dict", "default": []},
    "pools_var": {"type": "str", "default": "vmm_ip_pools"},
    "address_taken": {"type": "list", "elements": "raw", "default": []},
    "networks": {"type": "list", "elements": "dict", "default": []},
}

IP_POOL_INFO_SPEC = {
    "ip_pools": {"type": "list", "elements": "dict", "default": []},
    "address_taken": {"type": "list", "elements": "raw", "default": []},
    "uri": {"type": "str"},
}

UPLINK_BRIDGE_SPEC = {
    "bridge": {"type": "str", "default": "br0"},
    "uplink": {"type": "str", "required": True},
}

VM_SPEC = {
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "state": {"type": "str", "default": "present",
              "choices": ["present", "running", "stopped", "restarted", "reinstalled", "absent"]},
    "image": {"type": "str"},
    "clone": {"type": "str", "default": "overlay", "choices": ["overlay", "full"]},
    "vcpus": {"type": "int"},
    "max_vcpus": {"type": "int"},
    "memory": {"type": "int"},
    "max_memory": {"type": "int"},
    "disk_size": {"type": "int"},
    "networks": {"type": "list", "elements": "dict", "options": NIC_OPTIONS},
    "cloud_init": {"type": "dict", "options": CLOUD_INIT_OPTIONS},
    "console": {"type": "dict", "options": CONSOLE_OPTIONS},
    "autostart": {"type": "bool"},
    "owner": {"type": "str"},
    "keep_owner": {"type": "bool", "default": False},
    "cluster": {"type": "str"},
    "ha": {"type": "bool"},
    "domain_type": {"type": "str", "default": "auto", "choices": ["auto", "kvm", "qemu"]},
    "machine": {"type": "str", "default": "pc"},
    "pool": {"type": "str", "default": "vmm"},
    "image_pool": {"type": "str", "default": "vmm-images"},
    "shutdown_timeout": {"type": "int", "default": 120},
    "wait_for_ip": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 60},
    "ip_pools": {"type": "list", "elements": "dict", "default": []},
    "address_taken": {"type": "list", "elements": "raw", "default": []},
    "anti_spoofing": {"type": "bool", "default": True},
    "snapshot_limit": {"type": "int"},
    "disks": {"type": "list", "elements": "dict", "options": DATA_DISK_OPTIONS},
    "iso": {"type": "str"},
    "rescue": {"type": "bool"},
    "rescue_image": {"type": "str"},
}

VM_ADDRESS_SPEC = {
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "address": {"type": "str", "default": "auto"},
    "version": {"type": "int", "choices": [4, 6], "default": 4},
    "nic": {"type": "int", "default": 0},
    "count": {"type": "int", "default": 1},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "ip_pools": {"type": "list", "elements": "dict", "default": []},
    "address_taken": {"type": "list", "elements": "raw", "default": []},
}

VM_INFO_SPEC = {
    "name": {"type": "str"},
    "uri": URI_OPTION,
}

VM_ADOPT_SPEC = {
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "owner": {"type": "str"},
    "cluster": {"type": "str"},
    "managed_disks": {"type": "list", "elements": "str", "default": []},
}

VM_SNAPSHOT_SPEC = {
    "vm": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "state": {"type": "str", "choices": ["present", "absent", "restored"], "default": "present"},
    "memory": {"type": "bool"},
    "description": {"type": "str"},
    "limit": {"type": "int"},
}

BACKUP_STORE_OPTION = {"type": "path", "default": "/var/lib/vmm/backups"}

VM_BACKUP_SPEC = {
    "vm": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "state": {"type": "str", "choices": ["present", "restored", "absent"], "default": "present"},
    "backup": {"type": "str"},
    "store": BACKUP_STORE_OPTION,
    "keep": {"type": "int"},
    "restore_as": {"type": "str"},
    "owner": {"type": "str"},
    "pool": {"type": "str", "default": "vmm"},
    "quiesce": {"type": "bool", "default": True},
}

VM_BACKUP_INFO_SPEC = {
    "vm": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "store": BACKUP_STORE_OPTION,
    "job": {"type": "str"},
    "async_dir": {"type": "path", "default": "~/.ansible_async"},
}

VM_MIGRATE_SPEC = {
    "name": {"type": "str", "required": True},
    "uri": URI_OPTION,
    "dest_uri": {"type": "str", "required": True},
    "migrate_uri": {"type": "str"},
    "storage": {"type": "str", "choices": list(STORAGE_MODES), "default": "auto"},
    "unsafe": {"type": "bool", "default": False},
    "bandwidth": {"type": "int", "default": 0},
}
