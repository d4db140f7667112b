"""Fresh Debian 12 nodes for the lab (tests/lab/lab up --fresh K).

The root filesystem: debootstrap minbase plus the packages of a minimal server
(FRESH_PACKAGES), never libvirt or QEMU: those must come from the node role.
It is built once per recipe (suite, mirror, package list, this file's build
code) into a tarball under the cache directory and unpacked per node.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SUITE = "bookworm"
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# What a minimal Debian server has beyond minbase that the role may assume: an SSH
# server, Python for Ansible, iproute2, CA certificates, kmod (modprobe), procps
# (sysctl), ifupdown and netbase. Not python3-apt: Ansible's apt module installs it.
FRESH_PACKAGES = ("openssh-server", "python3", "iproute2", "ca-certificates", "kmod", "procps",
                  "netbase", "ifupdown", "iputils-ping", "less")
RECIPE_VERSION = "1"  # bump when the build below changes what the tarball holds
# Device nodes a fresh node gets from the host (bound, not created): no /dev/kvm,
# guests use software emulation; /dev/net/tun for their tap devices.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun")


class FreshNodeError(Exception):
    pass


def _run(*argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise FreshNodeError(f"{' '.join(argv)}: {(result.stderr or result.stdout).strip()[-2000:]}")
    return result


def mirror():
    """The first Debian mirror of the controller's sources (the one apt here uses)."""
    for line in SOURCES.read_text().splitlines():
        if line.startswith("URIs:"):
            return line.split()[1]
    raise FreshNodeError(f"no URIs: line in {SOURCES}")


def recipe():
    return "\n".join([RECIPE_VERSION, SUITE, mirror(), "minbase", ",".join(FRESH_PACKAGES)]) + "\n"


def fresh_root_tarball(cache_dir):
    """The cached tarball of the fresh root, built with debootstrap when its recipe changed."""
    digest = hashlib.sha256(recipe().encode()).hexdigest()[:16]
    tarball = cache_dir / f"debian-{SUITE}-{digest}.tar"
    if tarball.exists():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    build = cache_dir / f"build-{digest}.tmp"
    shutil.rmtree(build, ignore_errors=True)
    try:
        _run("debootstrap", "--variant=minbase", f"--include={','.join(FRESH_PACKAGES)}", SUITE,
             str(build), mirror(), timeout=3600)
        # What the build left that a node must not inherit: the host's resolver, sshd host keys.
        for leftover in ("etc/resolv.conf", "etc/hostname"):
            (build / leftover).unlink(missing_ok=True)
        for key in (build / "etc" / "ssh").glob("ssh_host_*"):
            key.unlink()
        shutil.rmtree(build / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        (build / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True)
        tmp = tarball.with_suffix(".tar.tmp")
        _run("tar", "--numeric-owner", "--xattrs", "-C", str(build), "-cf", str(tmp), ".")
        tmp.replace(tarball)
        (cache_dir / f"debian-{SUITE}-{digest}.recipe").write_text(recipe())
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return tarball


def populate_root(tarball, root, *, hostname, proxy, authorized_keys, shared_dir):
    """Unpack the fresh root and give it what the lab, not the role, is for: a name, apt's proxy, sshd."""
    root.mkdir(parents=True)
    _run("tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(tarball))
    (root / "etc" / "hostname").write_text(f"{hostname}\n")
    (root / "etc" / "hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {hostname}\n")
    (root / "etc" / "resolv.conf").write_text("")  # no DNS: nothing leaves the machine
    # The controller's sources (same mirror and suites, so the node gets the versions it has).
    (root / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
    shutil.copyfile(SOURCES, root / "etc" / "apt" / "sources.list.d" / "debian.sources")
    (root / "etc" / "apt" / "apt.conf.d" / "90vmm-lab").write_text(
        "// Written by tests/lab/lab: the node's only way to Debian's mirror is the lab's proxy.\n"
        f'Acquire::http::Proxy "{proxy}";\n'
        # The mirror is a dated snapshot: its Release files are past their Valid-Until.
        'Acquire::Check-Valid-Until "false";\n')
    # A service started by a package's maintainer script would run outside the role's
    # control (there is no init); the role starts what it needs, as on a container host.
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(authorized_keys, ssh_dir / "authorized_keys")
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", hostname,
         "-f", str(root / "etc" / "ssh" / "ssh_host_ed25519_key"))
    (root / "etc" / "ssh" / "sshd_config.d" / "vmm-lab.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nMaxStartups 100\nMaxSessions 100\n")
    (root / shared_dir.relative_to("/")).mkdir(parents=True, exist_ok=True)
    for device in DEVICES:
        (root / "dev" / device).parent.mkdir(parents=True, exist_ok=True)


# Runs in the node's new mount and UTS namespaces: mounts the node's own /proc,
# /sys, /dev and /run inside the fresh root, the lab's shared directory at the
# same path, then makes the fresh root / (pivot_root) and holds the namespaces.
HOLDER_SCRIPT = """
set -e
hostname "$1"; root=$2; shared=$3; shift 3
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
if [ -d /sys/fs/cgroup ]; then mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"; fi
mount -t tmpfs -o mode=0755,nosuid vmm-lab-dev "$root/dev"
for dev in "$@"; do
    mkdir -p "$(dirname "$root/dev/$dev")"; : >"$root/dev/$dev"; mount --bind "/dev/$dev" "$root/dev/$dev"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts" && ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
for fd in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${fd%%:*}" "$root/dev/${fd#*:}"; done
mount -t tmpfs -o mode=0755 vmm-lab-run "$root/run"
mkdir -p "$root/run/sshd" "$root/run/lock" "$root/run/libvirt"
mount --bind "$shared" "$root$shared"
cd "$root"
mkdir -p .lab-old-root
pivot_root . .lab-old-root
cd /
umount -l /.lab-old-root
rmdir /.lab-old-root
exec sleep infinity
"""


def holder_argv(netns, hostname, root, shared_dir):
    return ["ip", "netns", "exec", netns, "unshare", "-m", "-u", "--propagation", "private",
            "/bin/sh", "-c", HOLDER_SCRIPT, "holder", hostname, str(root), str(shared_dir), *DEVICES]


# --- the package proxy ---------------------------------------------------

def start_proxy(address, port, cache_dir, log):
    """The lab's package proxy on address:port; returns its PID once it answers."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["/usr/bin/python3", str(Path(__file__).with_name("apt_proxy.py")), address, str(port), str(cache_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FreshNodeError(f"the package proxy exited (log: {log})")
        try:
            with socket.create_connection((address, port), timeout=1):
                return proc.pid
        except OSError:
            time.sleep(0.05)
    raise FreshNodeError(f"the package proxy does not answer on {address}:{port}")


def stop_proxy(pid):
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"apt_proxy.py" in cmdline:  # the PID is still ours
        os.kill(pid, signal.SIGTERM)
