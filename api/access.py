"""Who may do what: admins everything; users only operations open to them, on VMs they own."""

from __future__ import annotations

import threading

from .errors import ApiError

FORBIDDEN_VM = "You do not have permission to act on this VM."


class Access:
    """Reads owners from the VM directory in the store (never from the nodes)."""

    def __init__(self, store, quotas):
        self.store = store
        self.quotas = quotas
        # a user's admission and the job it submits are one step in this process, so two requests at once
        # cannot both pass a quota that only one fits (API processes sharing PostgreSQL each have their own)
        self.admission = threading.Lock()

    @staticmethod
    def visible_to(user):
        """None when the user sees every job, else the name whose jobs they see."""
        return None if user["role"] == "admin" else user["name"]

    @staticmethod
    def can_see(user, job):
        return user["role"] == "admin" or user["name"] in (job["owner"], job["launched_by"])

    @staticmethod
    def can_see_vm(user, vm):
        return user["role"] == "admin" or vm["owner"] == user["name"]

    def admit(self, user, operation, variables):
        """(variables, owner) of a job `user` may submit; ApiError(403) otherwise.

        A user's new VM is theirs (owner set to them); any other VM operation needs
        the VM to be theirs. The same answer for a VM of someone else and for none
        at all, so nothing tells a user which VMs exist."""
        if user["role"] not in operation.roles:
            raise ApiError(403, f"Operation {operation.name} is for administrators.")
        if operation.kind != "vm":
            return variables, None
        vm = self.store.get_vm(variables["name"])
        exists, owner = vm is not None, vm["owner"] if vm else None
        if user["role"] == "admin":
            if operation.name == "vm_create":
                owner = variables.get("owner") or owner
            return variables, owner
        if operation.name == "vm_create":
            if variables.get("owner", user["name"]) != user["name"]:
                raise ApiError(403, "vars.owner: users create VMs they own themselves.", field="vars.owner")
            if exists and owner != user["name"]:
                raise ApiError(403, FORBIDDEN_VM)
            _pool_addresses_only(variables)
            self.quotas.check(user["name"], variables, vm)
            # keep_owner: a VM of that name the directory does not know yet is not handed to the user
            return {**variables, "owner": user["name"], "keep_owner": True}, user["name"]
        if not exists or owner != user["name"]:
            raise ApiError(403, FORBIDDEN_VM)
        if operation.name == "vm_restore" and any(variables.get(key) for key in ("restore_as", "owner", "node")):
            raise ApiError(403, "vars.restore_as: restoring a backup as a new VM is for administrators.",
                           field="vars.restore_as")
        if operation.name in ("vm_reinstall", "vm_rescue", "vm_iso"):  # the node checks the owner too
            return {**variables, "owner": user["name"], "keep_owner": True}, owner
        return variables, owner


def _pool_addresses_only(variables):
    """A user's NICs take addresses as the pools hand them out (auto) or none; naming one is an administrator's
    (vm_address), as a customer does not choose which of the provider's addresses is theirs."""
    for index, nic in enumerate(variables.get("networks") or []):
        for key in ("ipv4", "ipv6", "routed"):
            value = nic.get(key)
            if value is not None and value not in ("auto", "none"):
                raise ApiError(403, f"vars.networks[{index}].{key}: users take addresses from the pools (auto) or "
                                    "none; an administrator gives a particular one.",
                               field=f"vars.networks[{index}].{key}")
