"""cluster_heal's decisions by table: who is lost, who is stale, who did not answer."""

from ansible_collections.vmm.cloud.plugins.module_utils.ha import heal_plan


def answered(*vms):
    return {"node": {"vms": [{"name": name, "active": True} for name in vms]}}


def records(*pairs):
    return {"records": [{"name": name, "node": node, "cluster": "c1"} for name, node in pairs]}


UNREACHABLE = {"unreachable": True, "msg": "ssh: connect to host 10.0.0.1 port 22: Connection refused"}
HA = records(("web1", "n1"), ("web2", "n2"), ("db1", "n1"))


def test_dead_node_loses_its_ha_vms():
    nodes = {"n1": UNREACHABLE, "n2": answered("web2"), "n3": answered()}
    plan = heal_plan(nodes, {"n2": HA, "n3": HA}, dead=["n1"])
    assert plan["answered"] == ["n2", "n3"]
    assert plan["suspects"] == ["n1"]
    assert [r["name"] for r in plan["lost"]] == ["db1", "web1"]
    assert plan["stale"] == []


def test_silent_but_not_confirmed_dead_loses_nothing():
    nodes = {"n1": UNREACHABLE, "n2": answered("web2")}
    assert heal_plan(nodes, {"n2": HA}, dead=[])["lost"] == []


def test_once_restarted_the_vm_is_not_lost_again():
    nodes = {"n1": UNREACHABLE, "n2": answered("web2", "web1", "db1")}
    restarted = records(("web1", "n2"), ("web2", "n2"), ("db1", "n2"))
    assert heal_plan(nodes, {"n2": restarted}, dead=["n1"])["lost"] == []


def test_node_back_from_the_dead_holds_stale_copies():
    nodes = {"n1": answered("web1", "db1"), "n2": answered("web2", "web1", "db1")}
    moved = records(("web1", "n2"), ("web2", "n2"), ("db1", "n2"))
    plan = heal_plan(nodes, {"n1": moved, "n2": moved})
    assert plan["stale"] == [{"name": "db1", "node": "n1", "home": "n2"}, {"name": "web1", "node": "n1", "home": "n2"}]
    assert plan["lost"] == []


def test_copy_is_not_stale_while_its_home_lacks_it():
    # The record says n2, but n2 has no such domain: n1's copy is the only one, keep it.
    nodes = {"n1": answered("web1"), "n2": answered()}
    assert heal_plan(nodes, {"n1": records(("web1", "n2"))})["stale"] == []


def test_libvirtd_down_is_not_dead():
    nodes = {"n1": {"node": {"libvirtd_alive": False, "vms": []}}, "n2": answered()}
    plan = heal_plan(nodes, {"n2": HA}, dead=[])
    assert plan["suspects"] == []
    assert plan["lost"] == []
