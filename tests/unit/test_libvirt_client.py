"""LibvirtClient on libvirt's in-process test driver."""

from __future__ import annotations

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.errors import (
    LibvirtConnectionError,
    NotFoundError,
    VmmError,
)
from ansible_collections.vmm.cloud.plugins.module_utils.host_xml import domain_types
from ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client import LibvirtClient

TEST_DOMAIN = """<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory>
<vcpu placement='static' current='1'>2</vcpu><os><type arch='i686'>hvm</type></os></domain>"""


@pytest.fixture
def client():
    # each open of test:///default is a fresh in-process host with one domain, "test"
    client = LibvirtClient("test:///default")
    yield client
    client.close()


def test_unreachable_uri_names_the_field():
    with pytest.raises(LibvirtConnectionError) as err:
        LibvirtClient("qemu:///system?socket=/nonexistent/libvirt-sock")
    assert err.value.field == "uri"
    assert err.value.msg.startswith("uri: cannot connect to qemu:///system?socket=/nonexistent/libvirt-sock")


def test_lookup(client):
    assert client.find_domain("test").name() == "test"
    assert client.find_domain("nope") is None
    with pytest.raises(NotFoundError) as err:
        client.get_domain("nope")
    assert err.value.field == "name"


def test_define_power_cycle_and_undefine(client):
    dom = client.define(TEST_DOMAIN.format(name="cycle"))
    assert client.domain_state(dom) == "shutoff" and not client.is_active(dom)
    client.start(dom)
    assert client.domain_state(dom) == "running"
    client.set_vcpus_live(dom, 2)
    assert dom.vcpusFlags(1) == 2
    client.destroy(dom)
    client.destroy(dom)  # destroying a stopped domain is a no-op, not an error
    assert client.wait_for_state(dom, "shutoff", timeout=1)
    client.set_autostart(dom, True)
    assert client.autostart(dom) is True
    client.undefine(dom)
    assert client.find_domain("cycle") is None


def test_wait_for_state_times_out(client):
    dom = client.get_domain("test")  # running on the test driver
    assert client.wait_for_state(dom, "shutoff", timeout=0.3, interval=0.1) is False


def test_libvirt_errors_become_vmm_errors(client):
    with pytest.raises(VmmError, match="^defining the domain: "):
        client.define("<domain type='test'><name>broken</name></domain>")  # no memory


def test_pools_and_host(client):
    assert client.pool_path("default-pool") == "/default-pool"
    with pytest.raises(NotFoundError) as err:
        client.pool_path("nope", field="image_pool")
    assert err.value.field == "image_pool" and err.value.msg.startswith("image_pool: no storage pool called nope")
    usage = client.pools_usage()
    assert usage[0]["name"] == "default-pool" and usage[0]["capacity"] > 0
    host = client.host_summary()
    assert host["cpus"] == 16 and host["memory_total_mib"] > 0
    assert host["libvirt_version"].count(".") == 2
    assert "default" in client.network_names()
    assert domain_types(client.capabilities_xml(), arch="i686") == ["test"]
    assert [d.name() for d in client.list_domains()] == ["test"]


class DeadConnection:
    """What a connection looks like once libvirtd is gone: every call fails, isAlive says so."""

    def isAlive(self):  # noqa: N802 - libvirt's name
        return 0

    def close(self):
        pass


def test_a_call_that_loses_libvirtd_says_libvirtd_is_unreachable(client):
    import libvirt

    def eof():
        raise libvirt.libvirtError("End of file while reading data: Input/output error")

    client.conn = DeadConnection()
    with pytest.raises(LibvirtConnectionError) as err:
        client._call("starting web1", eof)
    assert err.value.msg == ("starting web1: libvirtd is unreachable on test:///default (the connection to libvirt "
                             "was lost: End of file while reading data: Input/output error)")


def test_a_call_that_fails_on_a_live_connection_is_a_plain_error(client):
    with pytest.raises(VmmError, match="^starting test: ") as err:
        client.start(client.get_domain("test"))  # already running
    assert not isinstance(err.value, LibvirtConnectionError)


class _Recording:
    """A real domain of the test driver whose fsFreeze/fsThaw calls are written down."""

    def __init__(self, dom):
        self.dom, self.calls = dom, []

    def fsFreeze(self, mountpoints, flags):  # noqa: N802 (libvirt's name)
        self.calls.append("freeze")
        return self.dom.fsFreeze(mountpoints, flags)

    def fsThaw(self, mountpoints, flags):  # noqa: N802
        self.calls.append("thaw")
        return self.dom.fsThaw(mountpoints, flags)

    def name(self):
        return self.dom.name()


def test_quiesced_thaws_whatever_happens_in_the_block(client):
    dom = _Recording(client.find_domain("test"))
    with client.quiesced(dom) as frozen:
        assert frozen == 2 and dom.calls == ["freeze"]  # the test driver's guest has two filesystems
    assert dom.calls == ["freeze", "thaw"]
    with pytest.raises(RuntimeError), client.quiesced(dom):
        raise RuntimeError("the snapshot failed")
    assert dom.calls == ["freeze", "thaw", "freeze", "thaw"]


def test_quiesced_without_an_agent_freezes_nothing(client):
    client.destroy(client.find_domain("test"))
    dom = _Recording(client.find_domain("test"))  # shut off: nothing to freeze, nothing to thaw
    with client.quiesced(dom) as frozen:
        assert frozen == 0
    assert dom.calls == ["freeze"]
