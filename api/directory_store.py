"""The VM directory's tables and their SQL: what the API knows of every VM and node, without asking them.

Part of the store (api/store.py mixes it in): filled from what jobs' modules
returned and reconciled by `inventory_sync` jobs; read by the access policy,
the quotas, the /vms, /nodes and /pools routes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


def _addresses(value):
    return value.split() if value else []


def _instant(value):
    return None if value is None else datetime.fromtimestamp(value, UTC).replace(tzinfo=None)


class Addresses(sa.types.TypeDecorator):
    """A list of IP addresses kept as one space-separated string (reads far faster than JSON)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return " ".join(value or [])

    def process_result_value(self, value, dialect):
        return _addresses(value)


class Instant(sa.types.TypeDecorator):
    """A naive UTC datetime kept as seconds since the epoch (SQLite's text timestamps parse slowly)."""

    impl = sa.Float
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC).timestamp()

    def process_result_value(self, value, dialect):
        return _instant(value)


directory_metadata = sa.MetaData()  # created with the store's own tables (Store.create_schema)
UNKNOWN = "unknown"  # the state of a VM whose node did not answer the last look

vms = sa.Table(
    "vms", directory_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("uuid", sa.String(36)),
    sa.Column("node", sa.String(255)),
    sa.Column("owner", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("vcpus", sa.Integer),
    sa.Column("memory", sa.Integer),  # MiB
    sa.Column("disk_size", sa.Float),  # GiB
    sa.Column("addresses", Addresses, nullable=False),
    sa.Column("image", sa.String(255)),
    sa.Column("cluster", sa.String(64)),
    sa.Column("ha", sa.Boolean, nullable=False),
    sa.Column("rescue", sa.String(64)),  # the rescue ISO the VM boots (rescue mode), or NULL
    sa.Column("iso", sa.String(64)),  # the ISO in its CD-ROM drive for an install, or NULL
    sa.Column("last_seen", Instant, nullable=False),  # when a node last said this
    sa.Column("backups", sa.JSON),  # as the VM's last vm_backup or vm_restore job left them; NULL: not known
    sa.Column("snapshots", sa.JSON),  # as the VM's last vm_snapshot (or reinstall) job left them; NULL: not known
    sa.Index("vms_owner", "owner"),
    sa.Index("vms_node", "node"),
)

# Notifications (api/notify.py): webhooks (api/webhooks.py) and email subscriptions (api/email_notices.py), and
# every delivery to either with its attempts.
webhooks = sa.Table(
    "webhooks", directory_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),  # Fernet token of the secret
    sa.Column("description", sa.String(1024)),
    sa.Column("created", Instant, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

email_subscriptions = sa.Table(
    "email_subscriptions", directory_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(64), nullable=False),  # whose: a user gets the events of their jobs and VMs
    sa.Column("admin", sa.Boolean, nullable=False),  # made by an administrator: every event of its kinds
    sa.Column("address", sa.String(254), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("created", Instant, nullable=False),
)

deliveries = sa.Table(
    "notice_deliveries", directory_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook", sa.Integer),  # to a webhook, or
    sa.Column("subscription", sa.Integer),  # to an email subscription
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the exact bytes signed and sent
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt", Instant),
    sa.Column("last_code", sa.Integer),  # the receiver's HTTP (or SMTP) status, NULL when it could not be reached
    sa.Column("last_error", sa.String(1024)),
    sa.Column("created", Instant, nullable=False),
    sa.Column("delivered", Instant),
    sa.Index("notice_deliveries_due", "status", "next_attempt"),
    sa.Index("notice_deliveries_webhook", "webhook"),
    sa.Index("notice_deliveries_subscription", "subscription"),
)

# Backup policies (api/backup_policies.py): back up a VM, a cluster's VMs or every VM every `every` seconds.
policies = sa.Table(
    "backup_policies", directory_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("vm", sa.String(64)),  # one VM, or
    sa.Column("cluster", sa.String(64)),  # the VMs of a cluster; neither: every VM
    sa.Column("every", sa.Integer, nullable=False),  # seconds
    sa.Column("keep", sa.Integer, nullable=False),
    sa.Column("owner", sa.String(64), nullable=False),  # who made it
    sa.Column("created", Instant, nullable=False),
    sa.Column("next_run", Instant, nullable=False),
    sa.Column("last_run", Instant),
    sa.Column("last_jobs", sa.JSON),  # ids of the jobs its last run submitted
)
nodes = sa.Table(
    "nodes", directory_metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("cluster", sa.String(64)),
    sa.Column("reachable", sa.Boolean, nullable=False),
    sa.Column("health", sa.JSON, nullable=False),  # {ok, problems}
    sa.Column("maintenance", sa.Boolean, nullable=False),
    sa.Column("cpus", sa.Integer),
    sa.Column("vcpus_used", sa.Integer),
    sa.Column("memory_total", sa.Integer),  # MiB
    sa.Column("memory_free", sa.Integer),
    sa.Column("disk_free", sa.Float),  # GiB, in the node's VM pool
    sa.Column("vm_count", sa.Integer),
    sa.Column("last_seen", sa.DateTime),  # when the node last answered
    sa.Column("updated", sa.DateTime, nullable=False),
)

quotas = sa.Table(
    "quotas", directory_metadata,
    sa.Column("user", sa.String(64), primary_key=True),
    sa.Column("vms", sa.Integer),  # NULL: no limit
    sa.Column("vcpus", sa.Integer),
    sa.Column("memory", sa.Integer),  # MiB
    sa.Column("disk", sa.Integer),  # GiB
)

QUOTA_LIMITS = ("vms", "vcpus", "memory", "disk")
VM_FILTERS = ("owner", "node", "state", "cluster")
VM_FIELDS = tuple(column.name for column in vms.columns)


def _vm(row):
    """A row of the hand-written listing with the types the table's columns give."""
    row["addresses"] = _addresses(row["addresses"])
    row["last_seen"] = _instant(row["last_seen"])
    row["ha"] = bool(row["ha"])
    return row


class DirectoryStore:
    """SQL of the VM directory (a part of Store: uses its engines and transactions)."""

    def _upsert(self, conn, table, key, row):
        updated = conn.execute(table.update().where(table.c[key] == row[key]).values(**row)).rowcount
        if not updated:
            conn.execute(table.insert().values(**row))

    def record_vm(self, row):
        with self.engine.begin() as conn:
            self._upsert(conn, vms, "name", row)

    def move_vm(self, name, node, seen_at):
        with self.engine.begin() as conn:
            conn.execute(vms.update().where(vms.c.name == name).values(node=node, last_seen=seen_at))

    def forget_vm(self, name):
        with self.engine.begin() as conn:
            conn.execute(vms.delete().where(vms.c.name == name))

    def record_nodes(self, rows):
        with self.engine.begin() as conn:
            for row in rows:
                self._upsert(conn, nodes, "name", row)

    def reconcile(self, seen, answered, silent, read_since):
        """Apply one look at every node: `seen` VM rows, the nodes that `answered`, those that stayed `silent`.

        A VM a node that answered no longer has is forgotten, unless a job recorded it after `read_since`
        (a create that ended while the look ran); the VMs of silent nodes become `unknown`."""
        with self.engine.begin() as conn:
            for row in seen:
                self._upsert(conn, vms, "name", row)
            names = [row["name"] for row in seen]
            conn.execute(vms.delete().where(vms.c.node.in_(answered), vms.c.name.not_in(names),
                                            vms.c.last_seen < read_since))
            if silent:
                conn.execute(vms.update().where(vms.c.node.in_(silent)).values(state=UNKNOWN))

    def known_vms(self, names):
        """Which of `names` the directory holds."""
        with self._read() as conn:
            return set(conn.execute(sa.select(vms.c.name).where(vms.c.name.in_(names))).scalars())

    def get_vm(self, name):
        with self._read() as conn:
            row = conn.execute(sa.select(vms).where(vms.c.name == name)).first()
        return dict(row._mapping) if row else None

    def list_vms(self, filters, visible_to=None, offset=0, limit=25):
        """(count, VMs) by name. `filters` maps VM_FILTERS to wanted values.

        Hand-written SQL over plain tuples: SQLAlchemy's row objects made a page of 200 VMs four times
        slower, and this is the route a billing system polls."""
        assert set(filters) <= set(VM_FILTERS)
        conditions = [f"{column} = :{column}" for column in filters]
        params = {**filters, "limit": limit, "offset": offset}
        if visible_to is not None:
            conditions.append("owner = :visible_to")
            params["visible_to"] = visible_to
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._read() as conn:
            count = conn.execute(sa.text(f"SELECT count(*) FROM vms{where}"), params).scalar()
            result = conn.execute(sa.text(f"SELECT {', '.join(VM_FIELDS)} FROM vms{where} ORDER BY name "
                                          "LIMIT :limit OFFSET :offset"), params)
            return count, [_vm(dict(zip(VM_FIELDS, row, strict=True))) for row in result.fetchall()]

    def vm_addresses(self):
        """(name, addresses) of every VM in the directory, by name (the IP pools' report)."""
        with self._read() as conn:
            return [(name, addresses) for name, addresses in conn.execute(
                sa.select(vms.c.name, vms.c.addresses).order_by(vms.c.name))]

    def usage(self, owner):
        """What `owner`'s VMs in the directory hold: {vms, vcpus, memory, disk}."""
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(vms.c.vcpus), 0),
                          sa.func.coalesce(sa.func.sum(vms.c.memory), 0),
                          sa.func.coalesce(sa.func.sum(vms.c.disk_size), 0)).where(vms.c.owner == owner)
        with self._read() as conn:
            count, vcpus, memory, disk = conn.execute(query).one()
        return {"vms": count, "vcpus": int(vcpus), "memory": int(memory), "disk": float(disk)}

    def get_quota(self, user):
        with self._read() as conn:
            row = conn.execute(sa.select(quotas).where(quotas.c.user == user)).first()
        return {limit: row._mapping[limit] if row else None for limit in QUOTA_LIMITS}

    def set_quota(self, user, limits):
        with self.engine.begin() as conn:
            self._upsert(conn, quotas, "user", {"user": user, **{limit: limits.get(limit) for limit in QUOTA_LIMITS}})

    def list_nodes(self):
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(nodes).order_by(nodes.c.name))]
