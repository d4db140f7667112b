"""Placement by table: who is skipped and why, who wins, reservations."""

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils.placement import (
    GIB,
    judge,
    live_reservations,
    node_health,
    place,
    released,
    where_is,
)

POLICY = {"cpu_overcommit": 2.0, "memory_overcommit": 1.0, "memory_reserve_mib": 256, "disk_reserve_gib": 1}
REQUEST = {"memory_mib": 1024, "vcpus": 2, "disk_gib": 10, "pool": "vmm"}


def node(memory=8192, cpus=4, vms=(), free_gib=100, alive=True, maintenance=False, domain_type="qemu", pool="vmm"):
    return {"node": {
        "libvirtd_alive": alive, "error": None if alive else "Failed to connect socket", "maintenance": maintenance,
        "domain_type": domain_type, "memory_total_mib": memory, "cpus": cpus,
        "vms": [{"name": n, "memory_mib": m, "vcpus": c} for n, m, c in vms],
        "pools": [{"name": pool, "active": True, "available": free_gib * GIB}],
    }}


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"unreachable": True, "msg": "ssh: connect to host 10.0.0.3 port 22: No route to host"},
         "unreachable: ssh: connect to host 10.0.0.3 port 22: No route to host"),
        ({"failed": True, "msg": "boom"}, "node_info failed: boom"),
        (node(alive=False), "libvirtd does not answer: Failed to connect socket"),
        (node(maintenance=True), "in maintenance"),
        (node(domain_type=None), "no domain type boots a guest here"),
        (node(pool="other"), "no active storage pool vmm"),
        (node(memory=1024), "not enough memory: 1024 MiB asked, 768 MiB left of 768"),
        (node(vms=[("a", 7000, 1)]), "not enough memory: 1024 MiB asked, 936 MiB left of 7936"),
        (node(cpus=1), None),  # 2 vCPUs fit exactly on 1 CPU x 2.0
        (node(cpus=1, vms=[("a", 512, 1)]), "not enough vCPUs: 2 asked, 1 left of 2 (1 CPUs x 2.0)"),
        (node(free_gib=10), "not enough disk in pool vmm: 10 GiB asked, 9.0 GiB left"),
        (node(), None),
    ],
)
def test_judge(facts, reason):
    verdict = judge("n1", facts, REQUEST, POLICY)
    assert verdict["reason"] == reason
    assert verdict["ok"] is (reason is None)


def test_memory_counts_defined_vms_and_reservations():
    facts = node(memory=4096, vms=[("a", 2048, 1)])
    assert judge("n1", facts, REQUEST, POLICY)["memory_left_mib"] == 4096 - 256 - 2048 - 1024
    reserved = [{"memory_mib": 1024, "vcpus": 1, "disk_gib": 10, "pool": "vmm"}]
    verdict = judge("n1", facts, REQUEST, POLICY, reserved)
    assert verdict["memory_left_mib"] == -256
    assert verdict["reason"].startswith("not enough memory")


def test_most_memory_left_wins_then_name():
    nodes = {"b": node(memory=8192), "a": node(memory=8192), "c": node(memory=16384), "d": node(alive=False)}
    chosen, verdicts = place(nodes, REQUEST, POLICY)
    assert chosen == "c"
    assert [v["node"] for v in verdicts] == ["c", "a", "b", "d"]
    nodes.pop("c")
    assert place(nodes, REQUEST, POLICY)[0] == "a"


def test_reservations_steer_the_next_create():
    nodes = {"a": node(memory=2048), "b": node(memory=2048)}
    first, _ = place(nodes, REQUEST, POLICY)
    reservation = dict(REQUEST, node=first, vm="vm1", since=0)
    second, _ = place(nodes, REQUEST, POLICY, [reservation])
    assert {first, second} == {"a", "b"}
    third, verdicts = place(nodes, REQUEST, POLICY, [reservation, dict(reservation, node=second, vm="vm2")])
    assert third is None
    assert all(v["reason"].startswith("not enough memory") for v in verdicts)


def test_no_candidates():
    assert place({}, REQUEST, POLICY) == (None, [])


def test_where_is():
    nodes = {"a": node(vms=[("web1", 512, 1)]), "b": node(), "c": {"unreachable": True}}
    assert where_is(nodes, "web1") == ["a"]
    assert where_is(nodes, "web2") == []


def test_live_reservations_drop_expired_and_realised():
    nodes = {"a": node(vms=[("web1", 512, 1)]), "b": node()}
    reservations = [
        dict(REQUEST, node="a", vm="web1", since=100),   # now a domain on a: counted there already
        dict(REQUEST, node="b", vm="web2", since=100),   # still pending
        dict(REQUEST, node="b", vm="web3", since=0),     # lapsed
    ]
    assert [r["vm"] for r in live_reservations(reservations, nodes, now=150, ttl=100)] == ["web2"]


def test_a_created_vms_reservation_counts_for_facts_read_before_it_was_done():
    """The race of two creates: B read the facts before A's domain was defined, and places after A released."""
    ledger = [dict(REQUEST, node="b", vm="web1", since=100, addresses=["10.0.0.10"]),
              dict(REQUEST, node="b", vm="web2", since=101)]
    after = released(ledger, "web1", now=130, ttl=900, created=True)
    assert after == [dict(ledger[0], done=130), ledger[1]]
    assert released(after, "web1", now=140, ttl=900, created=True) == after  # done once, when first released
    stale = {"a": node(), "b": node()}  # B's facts: no web1 on b
    assert [r["vm"] for r in live_reservations(after, stale, now=135, ttl=900, facts_since=110)] == ["web1", "web2"]
    # facts read after web1 was done show it, or show that it is gone: its reservation no longer counts
    fresh = {"a": node(), "b": node(vms=[("web1", 1024, 2)])}
    assert [r["vm"] for r in live_reservations(after, fresh, now=135, ttl=900, facts_since=131)] == ["web2"]
    assert [r["vm"] for r in live_reservations(after, stale, now=135, ttl=900, facts_since=131)] == ["web2"]
    assert [r["vm"] for r in live_reservations(after, stale, now=135, ttl=900)] == ["web2"]  # facts' age unknown
    assert [r["vm"] for r in live_reservations(after, stale, now=1031, ttl=900, facts_since=110)] == []  # lapsed


def test_a_failed_creates_reservation_goes_at_once():
    ledger = [dict(REQUEST, node="b", vm="web1", since=100), dict(REQUEST, node="b", vm="old", since=0, done=5)]
    assert released(ledger, "web1", now=930, ttl=900) == []


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({}, []),
        ({"libvirtd_alive": False}, ["libvirtd does not answer: Failed to connect socket"]),
        ({"domain_type": None}, ["no domain type boots a guest here"]),
        ({"memory_free_mib": 100}, ["free memory low: 100 MiB"]),
        ({"pools": [{"name": "vmm", "active": False, "available": 0}]}, ["storage pool vmm is not active"]),
        ({"pools": [{"name": "vmm", "active": True, "available": GIB // 2}]},
         ["storage pool vmm nearly full: 0.50 GiB free"]),
        ({"maintenance": True, "memory_free_mib": 10}, ["free memory low: 10 MiB", "in maintenance"]),
    ],
)
def test_node_health(changes, problems):
    facts = {**node()["node"], "memory_free_mib": 4096, **changes}
    if changes.get("libvirtd_alive") is False:
        facts["error"] = "Failed to connect socket"
    assert node_health(facts) == {"ok": not problems, "problems": problems}
