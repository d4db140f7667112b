# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that talks to libvirt.

Every other file works with names, XML strings and plain dicts; this client
turns them into libvirt calls and turns libvirt errors into VmmError types.
One client (one connection) per module run.
"""

from __future__ import annotations

import ipaddress
import time
from contextlib import contextmanager

from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    ConflictError,
    LibvirtConnectionError,
    NotFoundError,
    ValidationError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import pool_target_path, pool_type

FILE_POOL_TYPES = ("dir", "fs", "netfs")

try:
    import libvirt
except ImportError:  # reported by module_runner.require_libraries()
    libvirt = None


STATE_NAMES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}

# Undefine also drops what libvirt keeps beside the definition, so a VM of the
# same name can be created again cleanly.
_UNDEFINE_FLAGS = ("VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                   "VIR_DOMAIN_UNDEFINE_NVRAM", "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA")


def _ignore_libvirt_errors(_ctx, _err):
    """libvirt prints every error to stderr by default; we raise them instead."""


def _local_only(ip):
    address = ipaddress.ip_address(ip.split("%")[0])
    return address.is_loopback or address.is_link_local


class LibvirtClient:
    """A connection to one libvirt URI."""

    def __init__(self, uri):
        libvirt.registerErrorHandler(_ignore_libvirt_errors, None)
        self.uri = uri
        try:
            self.conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise LibvirtConnectionError(f"uri: cannot connect to {uri}: {exc.get_error_message()}",
                                         field="uri") from None

    def close(self):
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass

    def _connection_lost(self):
        try:
            return not self.conn.isAlive()
        except libvirt.libvirtError:
            return True

    def reachable(self):
        return not self._connection_lost()

    def failure(self, what, exc):
        """The VmmError for a failed call: LibvirtConnectionError when libvirtd went away during it."""
        message = exc.get_error_message() or str(exc)
        if self._connection_lost():
            return LibvirtConnectionError(f"{what}: libvirtd is unreachable on {self.uri} (the connection to "
                                          f"libvirt was lost: {message})")
        return VmmError(f"{what}: {message}")

    def _call(self, what, func, *args):
        try:
            return func(*args)
        except libvirt.libvirtError as exc:
            raise self.failure(what, exc) from None

    # --- domains -----------------------------------------------------------

    def find_domain(self, name):
        """The domain called `name`, or None."""
        try:
            return self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise self.failure(f"looking up domain {name}", exc) from None

    def get_domain(self, name):
        dom = self.find_domain(name)
        if dom is None:
            raise NotFoundError(f"name: no VM called {name} on {self.uri}", field="name")
        return dom

    def list_domains(self):
        return self._call("listing domains", self.conn.listAllDomains, 0)

    def domains_summary(self):
        """[{name, vcpus, memory_mib, active}] of every defined domain: what placement counts."""
        summary = []
        for dom in self.list_domains():
            try:
                _state, max_kib, _kib, vcpus, _cpu_time = dom.info()
                active = bool(dom.isActive())
            except libvirt.libvirtError:
                continue  # undefined while we were listing
            summary.append({"name": dom.name(), "vcpus": vcpus, "memory_mib": max_kib // 1024, "active": active})
        return summary

    def domain_xml(self, dom, inactive=False):
        # SECURE: include the console password, so a changed one is noticed.
        flags = libvirt.VIR_DOMAIN_XML_SECURE | (libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)
        return self._call(f"reading the definition of {dom.name()}", dom.XMLDesc, flags)

    def domain_state(self, dom):
        state, _reason = self._call(f"reading the state of {dom.name()}", dom.state)
        return STATE_NAMES.get(state, "unknown")

    def is_active(self, dom):
        return bool(self._call(f"reading the state of {dom.name()}", dom.isActive))

    def define(self, xml):
        return self._call("defining the domain", self.conn.defineXML, xml)

    def set_metadata(self, dom, xml, namespace, live):
        """Write (xml) or remove (None) the domain's metadata element of `namespace`, in its definition and, when
        `live`, in the running guest's too: no restart."""
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0)
        self._call(f"writing the metadata of {dom.name()}", dom.setMetadata, libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                   xml, "vmm" if xml else None, namespace, flags)

    def start(self, dom):
        self._call(f"starting {dom.name()}", dom.create)

    def resume(self, dom):
        self._call(f"resuming {dom.name()}", dom.resume)

    def shutdown(self, dom):
        """Ask the guest to power off: through its guest agent when one answers, else the ACPI power button.
        Returns which was asked: "guest_agent" or "acpi"."""
        try:
            dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)
            return "guest_agent"
        except libvirt.libvirtError:  # no agent in the guest, or it did not answer
            pass
        self._call(f"shutting down {dom.name()}", dom.shutdownFlags, libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        return "acpi"

    @contextmanager
    def quiesced(self, dom):
        """Inside the block the guest's filesystems are frozen through its guest agent (consistent for a
        snapshot or a backup), thawed on the way out whatever happens. Yields how many were frozen:
        0 when no guest agent answers (the block then runs on a live, crash-consistent disk)."""
        try:
            frozen = dom.fsFreeze(None, 0)
        except libvirt.libvirtError:
            frozen = 0
        try:
            yield frozen
        finally:
            if frozen:
                self._call(f"thawing the filesystems of {dom.name()}", dom.fsThaw, None, 0)

    def destroy(self, dom):
        if self.is_active(dom):
            self._call(f"powering off {dom.name()}", dom.destroy)

    def undefine(self, dom):
        flags = 0
        for name in _UNDEFINE_FLAGS:
            flags |= getattr(libvirt, name, 0)
        try:
            dom.undefineFlags(flags)
        except libvirt.libvirtError:
            # Drivers that reject some of the flags (the test driver, old libvirt).
            self._call(f"undefining {dom.name()}", dom.undefine)

    def wait_for_state(self, dom, wanted, timeout, interval=0.2):
        """Poll until the domain reaches `wanted` state; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self.domain_state(dom) == wanted:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def autostart(self, dom):
        return bool(self._call(f"reading autostart of {dom.name()}", dom.autostart))

    def set_autostart(self, dom, enabled):
        self._call(f"setting autostart of {dom.name()}", dom.setAutostart, 1 if enabled else 0)

    def set_vcpus_live(self, dom, count):
        self._call(f"setting vcpus of {dom.name()}", dom.setVcpusFlags, count, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_memory_live(self, dom, mib):
        self._call(f"setting memory of {dom.name()}", dom.setMemoryFlags, mib * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def update_device_live(self, dom, device_xml):
        """Change a device of the running guest (such as a NIC's nwfilter binding), not its definition."""
        self._call(f"updating a device of {dom.name()}", dom.updateDeviceFlags, device_xml,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def attach_live(self, dom, device_xml):
        """Add a device to the running guest (its definition is changed separately)."""
        self._call(f"attaching a device to {dom.name()}", dom.attachDeviceFlags, device_xml,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def detach_live(self, dom, device_xml, target, timeout=15):
        """Take disk `target` out of the running guest, which has to let it go (ACPI hot-unplug): libvirt only
        asks, so this waits until the guest's live definition no longer has it, or fails."""
        self._call(f"detaching a device from {dom.name()}", dom.detachDeviceFlags, device_xml,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)
        deadline = time.monotonic() + timeout
        while f"<target dev='{target}'" in self.domain_xml(dom):
            if time.monotonic() >= deadline:
                raise ConflictError(f"disks: the guest of {dom.name()} did not let disk {target} go within {timeout} "
                                    "s; stop the VM and run again", field="disks")
            time.sleep(0.2)

    def block_resize(self, dom, target, size_bytes):
        self._call(f"resizing disk {target} of {dom.name()}", dom.blockResize, target, size_bytes,
                   libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)

    def interface_addresses(self, dom, agent=False):
        """{mac: [ip, ...]} from the DHCP leases of libvirt networks and, with `agent` (a guest agent
        answers), what the guest itself holds (static addresses included; link-local and loopback left out)."""
        found = {}
        sources = [libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE]
        if agent:
            sources.append(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)
        for source in sources:
            try:
                ifaces = dom.interfaceAddresses(source, 0)
            except libvirt.libvirtError:  # no leases, or the agent stopped answering
                continue
            for iface in (ifaces or {}).values():
                mac = (iface.get("hwaddr") or "").lower()
                for address in iface.get("addrs") or []:
                    ip = address.get("addr")
                    if ip and not _local_only(ip) and ip not in found.setdefault(mac, []):
                        found[mac].append(ip)
        return found

    # --- snapshots -----------------------------------------------------------

    def snapshot_names(self, dom):
        return [snap.getName() for snap in self._call(f"listing the snapshots of {dom.name()}",
                                                      dom.listAllSnapshots, 0)]

    def snapshots_xml(self, dom):
        """The definitions of the domain's snapshots, in no particular order."""
        return [self._call(f"reading snapshot {snap.getName()}", snap.getXMLDesc, 0)
                for snap in self._call(f"listing the snapshots of {dom.name()}", dom.listAllSnapshots, 0)]

    def find_snapshot(self, dom, name):
        try:
            return dom.snapshotLookupByName(name, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                return None
            raise self.failure(f"looking up snapshot {name} of {dom.name()}", exc) from None

    def create_snapshot(self, dom, xml, flags=0):
        return self._call(f"taking a snapshot of {dom.name()}", dom.snapshotCreateXML, xml, flags)

    def revert_snapshot(self, dom, name):
        """Back to snapshot `name`: its disks and, for one taken with the memory, the running guest."""
        snap = self._call(f"looking up snapshot {name}", dom.snapshotLookupByName, name, 0)
        self._call(f"reverting {dom.name()} to snapshot {name}", dom.revertToSnapshot, snap, 0)

    def delete_snapshot(self, dom, name):
        snap = self._call(f"looking up snapshot {name}", dom.snapshotLookupByName, name, 0)
        self._call(f"deleting snapshot {name} of {dom.name()}", snap.delete, 0)

    def forget_snapshot(self, dom, name):
        """Drop libvirt's record of a snapshot whose data goes away with its disk."""
        snap = self._call(f"looking up snapshot {name}", dom.snapshotLookupByName, name, 0)
        self._call(f"dropping snapshot {name} of {dom.name()}", snap.delete,
                   libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)

    # --- backups -------------------------------------------------------------

    def backup_begin(self, dom, xml):
        self._call(f"beginning a backup of {dom.name()}", dom.backupBegin, xml, None, 0)

    def abort_job(self, dom):
        """End the domain's job (a pull backup ends so); nothing when none runs."""
        try:
            dom.abortJob()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                raise self.failure(f"ending the job of {dom.name()}", exc) from None

    # --- storage, networks, host -------------------------------------------

    def pool_path(self, name, field="pool"):
        """The target directory of a storage pool."""
        try:
            pool = self.conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise NotFoundError(f"{field}: no storage pool called {name} on {self.uri}", field=field) from None
            raise self.failure(f"looking up pool {name}", exc) from None
        xml = self._call(f"reading pool {name}", pool.XMLDesc, 0)
        if pool_type(xml) not in FILE_POOL_TYPES:
            raise ValidationError(f"{field}: {name} is a {pool_type(xml)} pool; vmm keeps VM disks and images as "
                                  "files in directory pools (LVM volumes as VM disks are not supported yet)",
                                  field=field)
        return pool_target_path(xml)

    def refresh_pool(self, name):
        """Let libvirt see volumes we created or removed; harmless if it fails."""
        try:
            pool = self.conn.storagePoolLookupByName(name)
            if pool.isActive():
                pool.refresh(0)
        except libvirt.libvirtError:
            pass

    def network_names(self):
        return [net.name() for net in self._call("listing networks", self.conn.listAllNetworks, 0)]

    def pools_usage(self):
        """[{name, active, capacity, allocation, available}] in bytes."""
        usage = []
        for pool in self._call("listing pools", self.conn.listAllStoragePools, 0):
            _state, capacity, allocation, available = self._call(f"reading pool {pool.name()}", pool.info)
            usage.append({"name": pool.name(), "active": bool(pool.isActive()), "capacity": capacity,
                          "allocation": allocation, "available": available})
        return usage

    def host_summary(self):
        info = self._call("reading host info", self.conn.getInfo)
        model, memory_mib, cpus = info[0], info[1], info[2]
        try:
            free_bytes = self.conn.getFreeMemory()
        except libvirt.libvirtError:
            free_bytes = None
        return {
            "arch": model,
            "cpus": cpus,
            "memory_total_mib": memory_mib,
            "memory_free_mib": None if free_bytes is None else free_bytes // (1024 * 1024),
            "hostname": self._call("reading hostname", self.conn.getHostname),
            "libvirt_version": _version_string(self._call("reading libvirt version", self.conn.getLibVersion)),
            "hypervisor_version": _version_string(self._call("reading hypervisor version", self.conn.getVersion)),
        }

    # --- volumes and migration ----------------------------------------------

    def refresh_pools(self):
        """Let libvirt see every file of its active pools (other nodes write to shared ones)."""
        for pool in self._call("listing pools", self.conn.listAllStoragePools, 0):
            if pool.isActive():
                self._call(f"refreshing pool {pool.name()}", pool.refresh, 0)

    def find_volume(self, path):
        """(pool name, volume) holding `path`, or None when no pool of this node has it (as last refreshed)."""
        try:
            vol = self.conn.storageVolLookupByPath(path)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            raise self.failure(f"looking up volume {path}", exc) from None
        return self._call(f"reading the pool of {path}", vol.storagePoolLookupByVolume).name(), vol

    def volume_xml(self, vol):
        return self._call(f"reading volume {vol.path()}", vol.XMLDesc, 0)

    def create_volume(self, pool_name, xml):
        pool = self._call(f"looking up pool {pool_name}", self.conn.storagePoolLookupByName, pool_name)
        return self._call(f"creating a volume in pool {pool_name}", pool.createXML, xml, 0)

    def delete_volume(self, vol):
        self._call(f"deleting volume {vol.path()}", vol.delete, 0)

    def copy_volume(self, vol, dest, dest_vol, chunk=1024 * 1024):
        """Stream the bytes of `vol` into `dest_vol` on another node (both through libvirtd)."""
        down, up = self.conn.newStream(0), dest.conn.newStream(0)
        try:
            self._call(f"reading {vol.path()}", vol.download, down, 0, 0, 0)
            self._call(f"writing {dest_vol.path()} on {dest.uri}", dest_vol.upload, up, 0, 0, 0)
            while True:
                data = self._call(f"reading {vol.path()}", down.recv, chunk)
                if not data:
                    break
                self._call(f"writing {dest_vol.path()}", up.send, data)
            self._call(f"finishing the copy of {vol.path()}", down.finish)
            self._call(f"finishing the copy to {dest_vol.path()}", up.finish)
        except VmmError:
            for stream in (down, up):
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            raise

    def migrate(self, dom, dest, copy_storage=False, unsafe=False, migrate_uri=None, bandwidth_mib=0):
        """Live-migrate `dom` to the node of `dest`; it becomes persistent there and leaves this node."""
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
        if copy_storage:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
        if unsafe:
            flags |= libvirt.VIR_MIGRATE_UNSAFE
        if not self.is_active(dom):
            flags &= ~libvirt.VIR_MIGRATE_LIVE
            flags |= libvirt.VIR_MIGRATE_OFFLINE
        params = {}
        if migrate_uri:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = migrate_uri
        if bandwidth_mib:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = bandwidth_mib
        try:
            return dom.migrate3(dest.conn, params, flags)
        except libvirt.libvirtError as exc:
            if not dest.reachable():  # the destination went away, not this node
                raise dest.failure(f"migrating {dom.name()} to {dest.uri}", exc) from None
            raise self.failure(f"migrating {dom.name()} to {dest.uri}", exc) from None

    # --- network filters ---------------------------------------------------

    def nwfilter_xml(self, name):
        """The definition of nwfilter `name`, or None when the node has none of that name."""
        try:
            nwfilter = self.conn.nwfilterLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NWFILTER:
                return None
            raise self.failure(f"looking up nwfilter {name}", exc) from None
        return self._call(f"reading nwfilter {name}", nwfilter.XMLDesc, 0)

    def define_nwfilter(self, xml):
        return self._call("defining an nwfilter", self.conn.nwfilterDefineXML, xml)

    def capabilities_xml(self):
        return self._call("reading capabilities", self.conn.getCapabilities)

    def create_transient(self, xml):
        """Start a domain that vanishes when it stops (used by the boot probe)."""
        return self._call("starting a transient domain", self.conn.createXML, xml, 0)


def _version_string(number):
    major, rest = divmod(number, 1000000)
    minor, micro = divmod(rest, 1000)
    return f"{major}.{minor}.{micro}"
