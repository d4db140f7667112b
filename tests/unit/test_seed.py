"""NoCloud seed contents (pure) and the real ISO writer."""

import json
import shutil
import subprocess

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.seed import (
    iso_argv,
    seed_digest,
    seed_files,
    write_seed_iso,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2a alice@example"
UPDATES = {"network": {"when": ["boot-new-instance", "boot"]}}  # network config re-read at every boot


@pytest.mark.parametrize(
    ("cloud_init", "expected_user_data"),
    [
        ({"hostname": "web1"}, {"hostname": "web1", "preserve_hostname": False, "updates": UPDATES}),
        ({"hostname": "web1", "ssh_authorized_keys": [KEY]},
         {"hostname": "web1", "preserve_hostname": False, "updates": UPDATES, "ssh_authorized_keys": [KEY]}),
        ({"hostname": "web1", "password": "s3cret"},
         {"hostname": "web1", "preserve_hostname": False, "updates": UPDATES, "password": "s3cret",
          "chpasswd": {"expire": False}, "ssh_pwauth": True}),
        ({"hostname": "web1", "fqdn": "web1.example.org", "user_data": {"packages": ["nginx"]}},
         {"hostname": "web1", "preserve_hostname": False, "updates": UPDATES, "fqdn": "web1.example.org",
          "packages": ["nginx"]}),
    ],
)
def test_user_data(cloud_init, expected_user_data):
    files = seed_files("uuid-1", cloud_init)
    first, rest = files["user-data"].decode().split("\n", 1)
    assert first == "#cloud-config"
    assert json.loads(rest) == expected_user_data


def test_meta_data_and_network_config():
    files = seed_files("uuid-1", {"hostname": "web1"})
    assert files["meta-data"] == b"instance-id: uuid-1\nlocal-hostname: web1\n"
    assert "network-config" not in files  # cloud-init's fallback: DHCP on the first NIC
    static = {"version": 2, "ethernets": {"eth0": {"addresses": ["192.0.2.5/24"]}}}
    files = seed_files("uuid-1", {"hostname": "web1", "network_config": static})
    assert json.loads(files["network-config"]) == static


def test_digest_changes_with_any_content():
    base = seed_files("uuid-1", {"hostname": "web1"})
    assert seed_digest(base) == seed_digest(seed_files("uuid-1", {"hostname": "web1"}))
    assert seed_digest(base) != seed_digest(seed_files("uuid-2", {"hostname": "web1"}))
    assert seed_digest(base) != seed_digest(seed_files("uuid-1", {"hostname": "web2"}))


def test_iso_argv():
    assert iso_argv("/d/s.iso", "/tmp/c") == ["genisoimage", "-quiet", "-output", "/d/s.iso", "-volid", "cidata",
                                              "-joliet", "-rock", "/tmp/c"]


@pytest.mark.skipif(shutil.which("genisoimage") is None or shutil.which("isoinfo") is None,
                    reason="genisoimage not installed")
def test_real_iso(tmp_path):
    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    path = tmp_path / "seed.iso"
    write_seed_iso(run, str(path), seed_files("uuid-1", {"hostname": "web1"}))
    label = subprocess.run(["isoinfo", "-d", "-i", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Volume id: cidata" in label
    meta = subprocess.run(["isoinfo", "-R", "-x", "/meta-data", "-i", str(path)], capture_output=True,
                          check=True).stdout
    assert meta == b"instance-id: uuid-1\nlocal-hostname: web1\n"
    assert list(tmp_path.iterdir()) == [path]  # no partial file left
