"""The operations the API runs: an allowlist of playbooks with the schema of their variables.

A job names an operation, never a playbook path. Each operation knows its
playbook, the JSON schema of its variables, how its variables become the
playbook's extra variables, what its target (the lock) is, who may run it and
how long it may take.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_ADDRESS_SPEC

from .schemas import object_schema, vm_schema

LIMIT = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(,[A-Za-z0-9_][A-Za-z0-9_.-]*)*$",
         "maxLength": 255}

# vmm.cloud.vm_address's options the API takes, as its argument spec has them (not uri, ip_pools or address_taken:
# the playbook gives those)
VM_ADDRESS_OPTIONS = ("name", "address", "version", "count", "nic", "state")

VM_CREATE_OPTIONS = ("name", "image", "clone", "vcpus", "max_vcpus", "memory", "max_memory", "disk_size", "networks",
                     "cloud_init", "console", "autostart", "owner", "cluster", "ha", "domain_type", "machine",
                     "wait_for_ip", "wait_timeout")


# vars of vm_snapshot: the VM's `name` and the snapshot's (vmm.cloud.vm_snapshot's `vm` and `name`)
VM_SNAPSHOT_OPTIONS = {
    "name": {"type": "str", "required": True},
    "snapshot": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent", "restored"], "default": "present"},
    "memory": {"type": "bool"},
    "description": {"type": "str"},
}


VM_BACKUP_OPTIONS = {
    "name": {"type": "str", "required": True},
    "backup": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "keep": {"type": "int"},
}

VM_DISK_OPTIONS = {
    "name": {"type": "str", "required": True},
    "disk": {"type": "str", "required": True},
    "size": {"type": "int"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}

VM_RESCUE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "rescue": {"type": "bool", "default": True},
    "shutdown_timeout": {"type": "int", "default": 60},
}

VM_ISO_OPTIONS = {
    "name": {"type": "str", "required": True},
    "iso": {"type": "str", "required": True},
    "restart": {"type": "bool", "default": True},
    "shutdown_timeout": {"type": "int", "default": 60},
}

VM_ADOPT_OPTIONS = {
    "name": {"type": "str", "required": True},
    "adopt": {"type": "bool", "default": True},
    "owner": {"type": "str"},
    "managed_disks": {"type": "list", "elements": "str", "default": []},
}

VM_RESTORE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "backup": {"type": "str"},
    "restore_as": {"type": "str"},
    "owner": {"type": "str"},
    "node": {"type": "str"},
}


@dataclass(frozen=True)
class Operation:
    name: str
    description: str
    playbook: str  # relative to the project directory
    schema: dict  # JSON schema of `vars`
    kind: str  # "vm": the VM named in vars; "node": vars' node, else the hosts of the limit; "cluster": vars'
    # cluster; "directory": the whole VM directory
    roles: tuple = ("admin", "user")
    timeout: int = 900  # seconds; the runner is stopped after that
    fixed: dict = field(default_factory=dict)  # extra variables the operation sets itself
    prefix: str = "vm_"  # vars' keys become the playbook's variables with this prefix
    vm_source: bool = False  # the job's inventory also holds every VM (a vmm.cloud.libvirt source)

    def target(self, variables, limit):
        if self.kind == "vm":
            return f"vm:{variables['name']}"
        if self.kind == "cluster":
            return f"cluster:{variables.get('cluster') or 'all'}"
        if self.kind == "directory":
            return "directory"
        if "node" in variables:
            return f"node:{variables['node']}"
        return f"node:{limit or 'all'}"

    def extravars(self, variables):
        return {**{self.prefix + key: value for key, value in variables.items()}, **self.fixed}

    def describe(self):
        return {"name": self.name, "description": self.description, "target": self.kind, "roles": list(self.roles),
                "timeout": self.timeout, "vars_schema": self.schema}


def _with_default(schema, option, value):
    schema["properties"][option]["default"] = value
    return schema


def _power(name, state, description):
    return Operation(name=name, description=description, playbook="playbooks/vm_power.yml", kind="vm",
                     schema=vm_schema(("name", "shutdown_timeout")), fixed={"vm_power": state})


OPERATIONS = {op.name: op for op in (
    Operation(name="vm_create", kind="vm", playbook="playbooks/vm_create.yml", timeout=1800,
              description="Create a VM from an image in the store and start it (vmm.cloud.vm options).",
              schema=vm_schema(VM_CREATE_OPTIONS, required=("name", "image"))),
    Operation(name="vm_delete", kind="vm", playbook="playbooks/vm_delete.yml",
              description="Delete a VM with its overlay and seed (never its image); a running VM is stopped "
                          "first, forced after shutdown_timeout seconds.",
              schema=_with_default(vm_schema(("name", "shutdown_timeout")), "shutdown_timeout", 0)),
    Operation(name="vm_reinstall", kind="vm", playbook="playbooks/vm_reinstall.yml", timeout=1800,
              description="Reinstall a VM: a new system disk from `image` (the VM's own image when unset) and, with "
                          "cloud_init, a new seed (new password or keys); name, UUID, MACs, addresses, owner and "
                          "sizes stay, the old system disk and the VM's snapshots go. The VM runs afterwards.",
              schema=vm_schema(("name", "image", "cloud_init", "wait_for_ip", "wait_timeout"))),
    Operation(name="vm_snapshot", kind="vm", playbook="playbooks/vm_snapshot.yml", timeout=1800,
              description="Take (state present), revert to (restored) or delete (absent) the VM's snapshot `snapshot`. "
                          "A running VM's snapshot has its memory (a revert brings the guest back running), a stopped "
                          "VM's its disks; a VM keeps at most its snapshot limit. GET /api/v1/vms/{name}/snapshots "
                          "lists them.",
              schema=object_schema(VM_SNAPSHOT_OPTIONS)),
    Operation(name="vm_backup", kind="vm", playbook="playbooks/vm_backup.yml", timeout=21600,
              description="Back the VM up to the backup store without stopping it (state present; `backup` names it, "
                          "else the time does), keeping its `keep` newest; state absent deletes backup `backup`. The "
                          "job's events follow its progress. GET /api/v1/vms/{name}/backups lists them.",
              schema=object_schema(VM_BACKUP_OPTIONS)),
    Operation(name="vm_restore", kind="vm", playbook="playbooks/vm_restore.yml", timeout=21600,
              description="Restore the VM from its backup `backup` (the newest when unset): its disks are replaced "
                          "and it runs again if it ran. restore_as (administrators) makes a new VM of the backup, "
                          "on `node` when given (a backup store shared by the nodes restores anywhere).",
              schema=object_schema(VM_RESTORE_OPTIONS)),
    Operation(name="vm_disk", kind="vm", playbook="playbooks/vm_disk.yml", roles=("admin",), timeout=1800,
              description="Add (size in GiB), grow (a bigger size) or remove (state absent: detached and "
                          "deleted) the VM's data disk `disk`; a new one is attached to a running guest at once. "
                          "For administrators: users' quotas count system disks only.",
              schema=object_schema(VM_DISK_OPTIONS)),
    Operation(name="vm_rescue", kind="vm", playbook="playbooks/vm_rescue.yml", timeout=900,
              description="Rescue mode: with rescue true the VM boots the node's rescue ISO (the inventory's "
                          "vmm_rescue_image) with its own disks attached; with rescue false it boots normally again. "
                          "A running VM is restarted either way (ACPI first, forced after shutdown_timeout seconds); "
                          "it runs afterwards.",
              schema=object_schema(VM_RESCUE_OPTIONS)),
    Operation(name="vm_iso", kind="vm", playbook="playbooks/vm_iso.yml", timeout=900,
              description="Put the store's ISO image `iso` in the VM's CD-ROM drive, booted before its disks (a "
                          "manual install), or eject it (iso \"\"); with restart (the default) the VM boots again "
                          "at once, else at its next start.",
              schema=object_schema(VM_ISO_OPTIONS)),
    Operation(name="vm_adopt", kind="vm", playbook="playbooks/vm_adopt.yml", roles=("admin",), timeout=600,
              description="Adopt a libvirt domain vmm did not make, without restarting it: vmm's metadata (owner, "
                          "the node's cluster, the disks of managed_disks, which vmm deletes with the VM and a "
                          "reinstall replaces) is written into it, and every operation works on it afterwards. "
                          "adopt false gives it back.",
              schema=object_schema(VM_ADOPT_OPTIONS)),
    _power("vm_start", "running", "Start a VM."),
    _power("vm_stop", "stopped", "Shut a VM down (ACPI, forced after shutdown_timeout seconds)."),
    _power("vm_restart", "restarted", "Restart a VM."),
    Operation(name="vm_address", kind="vm", playbook="playbooks/vm_address.yml", roles=("admin",), timeout=600,
              description="Give a VM's NIC (nic, 0 first) addresses from the IP pools serving it (address auto: the "
                          "lowest free ones of IP version `version` until the NIC holds `count`) or the address "
                          "named, or take one back (state absent); the VM's definition is the record.",
              schema=object_schema(VM_ADDRESS_SPEC, keep=VM_ADDRESS_OPTIONS)),
    Operation(name="node_bootstrap", kind="node", playbook="playbooks/node_bootstrap.yml", roles=("admin",),
              timeout=3600, description="Bootstrap the nodes of the limit (all nodes without one) as vmm nodes.",
              schema=object_schema({})),
    Operation(name="node_info", kind="node", playbook="playbooks/node_info.yml", roles=("admin",), timeout=300,
              description="Facts and health of the nodes of the limit.", schema=object_schema({})),
    Operation(name="vm_migrate", kind="vm", playbook="playbooks/vm_migrate.yml", roles=("admin",), timeout=3600,
              description="Move a VM to another node of its cluster, live when it runs; without target, placement "
                          "picks the node. Disks the destination does not share are copied (storage=auto).",
              schema=object_schema({"name": {"type": "str", "required": True}, "target": {"type": "str"},
                                    "storage": {"type": "str", "choices": ["auto", "shared", "copy"],
                                                "default": "auto"}})),
    Operation(name="node_drain", kind="node", playbook="playbooks/node_drain.yml", roles=("admin",), timeout=7200,
              prefix="vmm_", description="Put a node in maintenance (left out of placement) and migrate every VM off "
                                         "it; maintenance=false takes it out of maintenance.",
              schema=object_schema({"node": {"type": "str", "required": True},
                                    "maintenance": {"type": "bool", "default": True}})),
    Operation(name="cluster_heal", kind="cluster", playbook="playbooks/cluster_heal.yml", roles=("admin",),
              timeout=3600, description="HA: restart the HA VMs of dead nodes on healthy nodes of their cluster and "
                                        "release stale copies on nodes that came back (the HA watcher runs it).",
              schema=object_schema({"cluster": {"type": "str"}})),
    Operation(name="inventory_sync", kind="directory", playbook="playbooks/inventory_sync.yml", roles=("admin",),
              timeout=900, vm_source=True,
              description="Read every node (facts, health) and every VM (through the vmm.cloud.libvirt inventory "
                          "source) into the API's VM directory; VMs of nodes that do not answer become unknown. The "
                          "API also runs it every VMM_API_SYNC_INTERVAL seconds.",
              schema=object_schema({})),
)}

assert all(op.schema["type"] == "object" for op in OPERATIONS.values())
