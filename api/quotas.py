"""Quotas per user, set by an admin: how many VMs, vCPUs, MiB of memory and GiB of disk a user's VMs may hold.

The sums come from the VM directory, plus the user's vm_create jobs that have
not ended yet, so a burst of submissions cannot slip past a quota. A user's
vm_create (a new VM, or new sizes for one of theirs) past a limit is refused at
submission, naming the limit, what is used and what is left.
"""

from __future__ import annotations

from .directory_store import QUOTA_LIMITS
from .errors import ApiError

DEFAULTS = {"vcpus": 1, "memory": 512}  # what vmm.cloud.vm gives a new VM that does not say
UNITS = {"vms": "VMs", "vcpus": "vCPUs", "memory": "MiB of memory", "disk": "GiB of disk"}
FIELDS = {"vms": "vars.name", "vcpus": "vars.vcpus", "memory": "vars.memory", "disk": "vars.disk_size"}


def asks(variables, current=None):
    """What a vm_create with `variables` adds to its owner's usage (`current`: the VM's directory row)."""
    if current is None:
        return {"vms": 1, "vcpus": variables.get("vcpus", DEFAULTS["vcpus"]),
                "memory": variables.get("memory", DEFAULTS["memory"]), "disk": variables.get("disk_size", 0)}
    wanted = {"vcpus": variables.get("vcpus"), "memory": variables.get("memory"), "disk": variables.get("disk_size")}
    held = {"vcpus": current["vcpus"], "memory": current["memory"], "disk": current["disk_size"]}
    return {"vms": 0, **{limit: max(0, (wanted[limit] or 0) - (held[limit] or 0)) if wanted[limit] is not None else 0
                         for limit in wanted}}


class Quotas:
    def __init__(self, store):
        self.store = store

    def usage(self, owner):
        used = self.store.usage(owner)
        pending = self.store.pending_creates(owner)
        known = self.store.known_vms([variables.get("name") for variables in pending]) if pending else set()
        for variables in pending:
            if variables.get("name") not in known:
                for limit, value in asks(variables).items():
                    used[limit] += value
        return used

    def report(self, user):
        quota, used = self.store.get_quota(user), self.usage(user)
        left = {limit: None if quota[limit] is None else max(0, quota[limit] - used[limit]) for limit in QUOTA_LIMITS}
        return {"user": user, "quota": quota, "used": used, "left": left}

    def check(self, owner, variables, current=None):
        """Refuse (403, naming the limit) a vm_create that would take `owner` past their quota."""
        quota = self.store.get_quota(owner)
        if all(value is None for value in quota.values()):
            return
        wanted, used = asks(variables, current), self.usage(owner)
        for limit in QUOTA_LIMITS:
            if quota[limit] is not None and wanted[limit] and used[limit] + wanted[limit] > quota[limit]:
                left = max(0, quota[limit] - used[limit])
                raise ApiError(403, f"Quota: this asks {wanted[limit]:g} more {UNITS[limit]}; {owner} uses "
                                    f"{used[limit]:g} of {quota[limit]}, {left:g} left.", field=FIELDS[limit])
