# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every vmm module's main() shares: one connection per run, one change
log (the one place check mode is decided), the node's own record read once,
the one place a VmmError becomes fail_json, and one result shape (changed,
msg, actions, diff, facts)."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vmm.cloud.plugins.module_utils import domain_xml, libvirt_client
from ansible_collections.vmm.cloud.plugins.module_utils.changes import ChangeLog
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError
from ansible_collections.vmm.cloud.plugins.module_utils.image_store import ImageStore
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient
from ansible_collections.vmm.cloud.plugins.module_utils.node_facts import facts_for
from ansible_collections.vmm.cloud.plugins.module_utils.qemu_img import QemuImg


class Context:
    """The node-side parts a module works with, made once per run."""

    def __init__(self, module):
        self.module = module
        self.qemu_img = QemuImg(self.run)
        self.log = ChangeLog(module.check_mode)
        self._client = None
        self._images = None
        self._node_facts = None

    @property
    def client(self):
        """The libvirt connection, opened on first use (node_info reports a dead libvirtd instead of failing)."""
        if self._client is None:
            self._client = LibvirtClient(self.module.params["uri"])
        return self._client

    @property
    def images(self):
        if self._images is None:
            self._images = ImageStore(self.client, self.qemu_img, self.module.params.get("image_pool") or "vmm-images")
        return self._images

    @property
    def node_facts(self):
        """This node's record (node_facts.py), read once per run; {} when the module's `uri` is another node's."""
        if self._node_facts is None:
            self._node_facts = facts_for(self.module.params.get("uri") or "qemu:///system")
        return self._node_facts

    def close(self):
        if self._client is not None:
            self._client.close()

    def run(self, argv):
        return self.module.run_command(argv)


def require_libraries(module):
    """Fail with the Debian package to install when a node lacks lxml or libvirt-python."""
    if domain_xml.etree is None:
        module.fail_json(msg=missing_required_lib("lxml (Debian: python3-lxml)"))
    if libvirt_client.libvirt is None:
        module.fail_json(msg=missing_required_lib("libvirt-python (Debian: python3-libvirt)"))


def run_module(module, work):
    """Run `work(context)` and exit the module.

    `work` returns the result dict and changes the node only through
    `context.log`. The result's `before` and `after` become the diff; the
    log's actions become `changed`, `actions` and `msg`.
    """
    require_libraries(module)
    context = None
    try:
        context = Context(module)
        result = work(context)
    except VmmError as exc:
        failure = {"msg": exc.msg}
        if exc.field:
            failure["field"] = exc.field
        module.fail_json(**failure)
    finally:
        if context is not None:
            context.close()
    actions = context.log.actions
    before, after = result.pop("before", None), result.pop("after", None)
    result.setdefault("msg", "; ".join(actions) if actions else "already as wanted")
    result["changed"] = bool(actions)
    result["actions"] = actions
    if module._diff and result["changed"]:
        result["diff"] = {"before": before or {}, "after": after or {}}
    module.exit_json(**result)
