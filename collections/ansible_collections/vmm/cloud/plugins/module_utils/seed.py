# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cloud-init NoCloud seed: what goes in it (pure) and the ISO writer.

meta-data is plain `key: value` lines; user-data and network-config are JSON,
which cloud-init reads as YAML, so nodes need no YAML library.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError

GENISOIMAGE = "genisoimage"


# cloud-init applies a datasource's network config at an instance's first boot only, unless told to at every boot:
# then an address vmm.cloud.vm_address adds or removes reaches the guest at its next boot, with no new instance-id
# (which would regenerate its SSH host keys).
NETWORK_UPDATES = {"network": {"when": ["boot-new-instance", "boot"]}}
ISOINFO = "isoinfo"


def user_data(cloud_init):
    config = {"hostname": cloud_init["hostname"], "preserve_hostname": False, "updates": NETWORK_UPDATES}
    if cloud_init.get("fqdn"):
        config["fqdn"] = cloud_init["fqdn"]
    keys = cloud_init.get("ssh_authorized_keys") or []
    if keys:
        config["ssh_authorized_keys"] = list(keys)
    if cloud_init.get("password"):
        config["password"] = cloud_init["password"]
        config["chpasswd"] = {"expire": False}
        config["ssh_pwauth"] = True
    config.update(cloud_init.get("user_data") or {})
    return "#cloud-config\n" + json.dumps(config, sort_keys=True) + "\n"


def seed_files(instance_id, cloud_init):
    """{file name: bytes} of the seed for one VM. Its network-config is `cloud_init.network_config`
    (vm_spec.with_seed_network makes one matching each NIC by MAC); without one, none is written and
    cloud-init's fallback (DHCP on the first NIC) applies."""
    meta = f"instance-id: {instance_id}\nlocal-hostname: {cloud_init['hostname']}\n"
    files = {"meta-data": meta.encode(), "user-data": user_data(cloud_init).encode()}
    if cloud_init.get("network_config"):
        files["network-config"] = (json.dumps(cloud_init["network_config"], sort_keys=True) + "\n").encode()
    return files


def seed_digest(files):
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def iso_argv(output, directory):
    return [GENISOIMAGE, "-quiet", "-output", output, "-volid", "cidata", "-joliet", "-rock", directory]


def read_seed_iso(run, path, names=("meta-data", "user-data", "network-config")):
    """{file name: bytes} of the seed at `path` (isoinfo, from genisoimage); a file it lacks is left out."""
    files = {}
    for name in names:
        rc, out, err = run([ISOINFO, "-R", "-i", path, "-x", f"/{name}"])
        if rc != 0:
            raise VmmError(f"reading {name} from the seed {path} failed: {(err or out).strip()}")
        if out:
            files[name] = out.encode() if isinstance(out, str) else out
    return files


def write_seed_iso(run, path, files):
    """Write the seed ISO to `path` atomically (temp name, then rename)."""
    workdir = tempfile.mkdtemp(prefix="vmm-seed-")
    try:
        content = os.path.join(workdir, "content")
        os.mkdir(content)
        for name, data in files.items():
            with open(os.path.join(content, name), "wb") as handle:
                handle.write(data)
        partial = f"{path}.partial"
        rc, out, err = run(iso_argv(partial, content))
        if rc != 0:
            raise VmmError(f"building the cloud-init seed failed: {(err or out).strip()}")
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
