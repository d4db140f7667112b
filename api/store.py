"""The API's database: users, tokens, jobs and job events (and, in directory_store, the VM directory).
The only modules that speak SQL.

SQLite (WAL) is the embedded default; PostgreSQL when several API processes share
one queue. Claiming a job is one transaction: `BEGIN IMMEDIATE` on SQLite,
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so no job is ever claimed twice.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .directory_store import DirectoryStore, directory_metadata
from .private import private_dir, private_file

ACTIVE = ("pending", "waiting", "running")
FINISHED = ("successful", "failed", "error", "canceled")
STATUSES = ("new", *ACTIVE, *FINISHED)
ROLES = ("admin", "user")
QUEUED = ("pending", "waiting")  # what a token's max_queued counts
MAX_EXPIRES_IN = 3650  # days a token may be made to last (or forever: no expiry)
MAX_QUEUED = 100000  # the highest max_queued of a token
LAST_USED_GRAIN = timedelta(minutes=1)  # a token's last_used is written at most this often

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created", sa.DateTime, nullable=False),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # sha256 of the token; the token is never stored
    sa.Column("created", sa.DateTime, nullable=False),
    # added after the first release: nullable, so add_missing_columns() can add them to an existing table
    sa.Column("expires", sa.DateTime),  # none: never
    sa.Column("revoked", sa.DateTime),
    sa.Column("last_used", sa.DateTime),  # to the minute (see LAST_USED_GRAIN)
    sa.Column("max_queued", sa.Integer),  # none: Settings.max_queued_per_token
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("vars", sa.JSON, nullable=False),
    sa.Column("limit", sa.String(255)),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("owner", sa.String(64)),
    sa.Column("launched_by", sa.String(64), nullable=False),
    sa.Column("timeout", sa.Integer, nullable=False),
    sa.Column("relaunch_of", sa.Integer),
    sa.Column("created", sa.DateTime, nullable=False),
    sa.Column("started", sa.DateTime),
    sa.Column("finished", sa.DateTime),
    sa.Column("elapsed", sa.Float),
    sa.Column("job_explanation", sa.Text, nullable=False, default=""),
    sa.Column("failed_task", sa.JSON),
    sa.Column("artifacts", sa.JSON),
    sa.Column("rc", sa.Integer),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("controller", sa.String(255)),  # host:pid:start-time of the API process running it
    sa.Column("runner_pid", sa.Integer),
    sa.Column("ident", sa.String(64)),
    sa.Column("token_id", sa.Integer),  # the token that submitted it (none: the API itself); no foreign key,
    # so the history outlives a token's row
    sa.Index("jobs_status_id", "status", "id"),
    sa.Index("jobs_target_id", "target", "id"),
)

job_events = sa.Table(
    "job_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("counter", sa.Integer, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("uuid", sa.String(64)),
    sa.Column("created", sa.DateTime),
    sa.Column("host", sa.String(255)),
    sa.Column("task", sa.Text),
    sa.Column("failed", sa.Boolean, nullable=False),
    sa.Column("changed", sa.Boolean, nullable=False),
    sa.Column("stdout", sa.Text, nullable=False),
    sa.Column("event_data", sa.JSON, nullable=False),
    sa.UniqueConstraint("job_id", "counter"),
)


def utcnow():
    """Naive UTC: what both SQLite and PostgreSQL store the same way."""
    return datetime.now(UTC).replace(tzinfo=None)


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class QueueFull(Exception):
    """A token already has its cap of queued jobs."""

    def __init__(self, cap):
        super().__init__(f"{cap} jobs queued")
        self.cap = cap


class Store(DirectoryStore):
    def __init__(self, url):
        self.url = sa.engine.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                self._private_sqlite_files(Path(self.url.database))
            # Writers take the lock up front (no deadlocked upgrade from a read);
            # readers run outside any transaction, so WAL never blocks them.
            self.engine = self._sqlite_engine(begin="BEGIN IMMEDIATE")
            self.reader = self._sqlite_engine(begin=None)
        else:
            self.engine = sa.create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.reader = self.engine

    @staticmethod
    def _private_sqlite_files(path):
        """The database file made 0600 before SQLite opens it (its -wal and -shm files take its mode)."""
        if not path.parent.exists():
            private_dir(path.parent)
        private_file(path, create=True)
        for suffix in ("-wal", "-shm", "-journal"):
            private_file(path.with_name(path.name + suffix))

    def _sqlite_engine(self, begin):
        engine = sa.create_engine(self.url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        if begin:
            @sa.event.listens_for(engine, "begin")
            def _begin(conn):
                conn.exec_driver_sql(begin)

        return engine

    def create_schema(self):
        metadata.create_all(self.engine)
        directory_metadata.create_all(self.engine)
        self.add_missing_columns()

    def add_missing_columns(self):
        """Columns added to a table after a database was made: ALTER TABLE ... ADD COLUMN each one missing.

        Idempotent, on SQLite and PostgreSQL; only nullable columns without defaults are ever added this way."""
        with self.engine.begin() as conn:
            inspector = sa.inspect(conn)
            for table in (*metadata.sorted_tables, *directory_metadata.sorted_tables):
                present = {column["name"] for column in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in present:
                        continue
                    assert column.nullable and column.server_default is None, f"{table.name}.{column.name}"
                    kind = column.type.compile(dialect=conn.dialect)
                    maybe = "" if self.is_sqlite else "IF NOT EXISTS "  # another process may be adding it too
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN {maybe}"{column.name}" {kind}')

    def dispose(self):
        self.engine.dispose()
        self.reader.dispose()

    @contextmanager
    def _read(self):
        with self.reader.connect() as conn:
            yield conn

    def _insert_ignoring_duplicates(self, table):
        return (sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)).on_conflict_do_nothing()

    # users and tokens

    def ensure_user(self, name, role):
        """The user called `name` with `role` (created, or its role updated)."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
            if row is None:
                conn.execute(users.insert().values(name=name, role=role, created=utcnow()))
            elif row.role != role:
                conn.execute(users.update().where(users.c.id == row.id).values(role=role))
            return dict(conn.execute(sa.select(users).where(users.c.name == name)).one()._mapping)

    def user_role(self, name):
        """The role of the user called `name`; None if there is none."""
        with self._read() as conn:
            return conn.execute(sa.select(users.c.role).where(users.c.name == name)).scalar()

    def create_token(self, user_id, expires=None, max_queued=None):
        return self.issue_token(user_id, expires, max_queued)[1]

    def issue_token(self, user_id, expires=None, max_queued=None):
        """(the token's row as token_rows() gives it, the token): the only time the token is known."""
        token = "vmm_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            token_id = conn.execute(tokens.insert().values(
                user_id=user_id, digest=token_digest(token), created=utcnow(), expires=expires,
                max_queued=max_queued)).inserted_primary_key[0]
        return self.token_rows(token_id=token_id)[1][0], token

    def user_for_token(self, token):
        """The user, role, token id and max_queued of a token neither revoked nor expired, else None.

        Read from the database on every call: a revocation or an expiry counts at once."""
        now = utcnow()
        query = (sa.select(users.c.name, users.c.role, tokens.c.id.label("token_id"), tokens.c.max_queued,
                           tokens.c.last_used).select_from(tokens.join(users))
                 .where(tokens.c.digest == token_digest(token), tokens.c.revoked.is_(None),
                        sa.or_(tokens.c.expires.is_(None), tokens.c.expires > now)))
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.last_used is None or now - row.last_used >= LAST_USED_GRAIN:
            with self.engine.begin() as conn:
                conn.execute(tokens.update().where(tokens.c.id == row.token_id).values(last_used=now))
        found = dict(row._mapping)
        del found["last_used"]
        return found

    def token_rows(self, user=None, token_id=None, offset=0, limit=None):
        """(count, tokens) oldest first, with their user's name and role; never a token or its digest."""
        where = []
        if user is not None:
            where.append(users.c.name == user)
        if token_id is not None:
            where.append(tokens.c.id == token_id)
        columns = (tokens.c.id, users.c.name.label("user"), users.c.role, tokens.c.created, tokens.c.expires,
                   tokens.c.revoked, tokens.c.last_used, tokens.c.max_queued)
        joined = tokens.join(users)
        with self._read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar()
            rows = conn.execute(sa.select(*columns).select_from(joined).where(*where).order_by(tokens.c.id)
                                .offset(offset).limit(limit)).all()
        return count, [dict(row._mapping) for row in rows]

    def revoke_token(self, token_id):
        """Revoke a token (kept, for the record, with the time it was first revoked); False if there is none."""
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(tokens.c.id).where(tokens.c.id == token_id)).first() is not None
            conn.execute(tokens.update().where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                         .values(revoked=utcnow()))
        return exists

    # jobs

    def insert_job(self, max_queued=None, **fields):
        """Insert a job; QueueFull if its token_id already has `max_queued` jobs queued (none: no cap).

        The count and the insert are one transaction, with the token's row locked on PostgreSQL
        (SQLite's BEGIN IMMEDIATE locks the whole database): concurrent submissions never pass the cap."""
        with self.engine.begin() as conn:
            if max_queued is not None and fields.get("token_id") is not None:
                self._check_queue(conn, fields["token_id"], max_queued)
            row = conn.execute(jobs.insert().values(created=utcnow(), job_explanation="", cancel_requested=False,
                                                    **fields).returning(*jobs.c)).one()
        return dict(row._mapping)

    def _check_queue(self, conn, token_id, max_queued):
        if not self.is_sqlite:
            conn.execute(sa.select(tokens.c.id).where(tokens.c.id == token_id).with_for_update())
        queued = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.token_id == token_id, jobs.c.status.in_(QUEUED))).scalar()
        if queued >= max_queued:
            raise QueueFull(max_queued)

    def get_job(self, job_id):
        with self._read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return dict(row._mapping) if row else None

    def list_jobs(self, filters, visible_to=None, offset=0, limit=25):
        """(count, jobs) newest first. `filters` maps column names to wanted values."""
        where = [getattr(jobs.c, column) == value for column, value in filters.items()]
        if visible_to is not None:
            where.append(sa.or_(jobs.c.owner == visible_to, jobs.c.launched_by == visible_to))
        with self._read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar()
            rows = conn.execute(sa.select(jobs).where(*where).order_by(jobs.c.id.desc())
                                .offset(offset).limit(limit)).all()
        return count, [dict(row._mapping) for row in rows]

    def blocking_job(self, job):
        """The id of the earliest unfinished job ahead of `job` on its target, if any."""
        query = (sa.select(jobs.c.id).where(jobs.c.target == job["target"], jobs.c.id < job["id"],
                                             jobs.c.status.in_(ACTIVE)).order_by(jobs.c.id).limit(1))
        with self._read() as conn:
            return conn.execute(query).scalar()

    def has_active_job(self, target):
        query = sa.select(jobs.c.id).where(jobs.c.target == target, jobs.c.status.in_(ACTIVE)).limit(1)
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def pending_creates(self, owner):
        """Variables of `owner`'s vm_create jobs not finished yet (their VMs may not be in the directory yet)."""
        query = sa.select(jobs.c.vars).where(jobs.c.operation == "vm_create", jobs.c.owner == owner,
                                             jobs.c.status.in_(ACTIVE))
        with self._read() as conn:
            return [row.vars for row in conn.execute(query)]

    def claim_next(self, controller):
        """Take the oldest pending job whose target has nothing unfinished ahead of it; mark it waiting."""
        ahead = jobs.alias("ahead")
        blocked = sa.exists().where(ahead.c.target == jobs.c.target, ahead.c.id < jobs.c.id,
                                    ahead.c.status.in_(ACTIVE))
        query = sa.select(jobs.c.id).where(jobs.c.status == "pending", ~blocked).order_by(jobs.c.id).limit(1)
        if not self.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=jobs)
        with self.engine.begin() as conn:
            job_id = conn.execute(query).scalar()
            if job_id is None:
                return None
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(status="waiting", controller=controller))
        return self.get_job(job_id)

    def update_job(self, job_id, **fields):
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**fields))

    def finish_job(self, job_id, status, **fields):
        """Record the end of a job once; False if it had already ended."""
        assert status in FINISHED
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(jobs.c.status, jobs.c.started).where(jobs.c.id == job_id)).first()
            if row is None or row.status in FINISHED:
                return False
            elapsed = round((now - row.started).total_seconds(), 3) if row.started else 0.0
            conn.execute(jobs.update().where(jobs.c.id == job_id)
                         .values(status=status, finished=now, elapsed=elapsed, **fields))
        return True

    def cancel_pending(self, job_id):
        """Cancel a job that has not been claimed yet; False if it had been."""
        with self.engine.begin() as conn:
            done = conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == "pending").values(
                status="canceled", finished=utcnow(), elapsed=0.0, cancel_requested=True,
                job_explanation="Canceled before it started.")).rowcount
        return done == 1

    def request_cancel(self, job_id):
        """Flag a claimed job; the process running it sees the flag and stops the runner."""
        with self.engine.begin() as conn:
            done = conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(("waiting", "running")))
                                .values(cancel_requested=True)).rowcount
        return done == 1

    def jobs_in_flight(self):
        """Jobs claimed by some API process and not finished (for recovery after a restart)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.status.in_(("waiting", "running")))).all()
        return [dict(row._mapping) for row in rows]

    def adopt_job(self, job_id, old_controller, controller):
        """Move a job from a dead controller to this one; False if another process got there first."""
        with self.engine.begin() as conn:
            done = conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.controller == old_controller,
                                                    jobs.c.status.in_(("waiting", "running")))
                                .values(controller=controller)).rowcount
        return done == 1

    # events

    def add_events(self, job_id, events):
        if not events:
            return
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignoring_duplicates(job_events), [{"job_id": job_id, **e} for e in events])

    def list_events(self, job_id, offset=0, limit=25, after=None):
        where = [job_events.c.job_id == job_id]
        if after is not None:
            where.append(job_events.c.counter > after)
        with self._read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(job_events).where(*where)).scalar()
            rows = conn.execute(sa.select(job_events).where(*where).order_by(job_events.c.counter)
                                .offset(offset).limit(limit)).all()
        return count, [dict(row._mapping) for row in rows]

    def stdout_since(self, job_id, after=0):
        """(text, last counter) of the events after counter `after`."""
        query = (sa.select(job_events.c.counter, job_events.c.stdout)
                 .where(job_events.c.job_id == job_id, job_events.c.counter > after).order_by(job_events.c.counter))
        with self._read() as conn:
            rows = conn.execute(query).all()
        text = "".join(row.stdout + "\n" for row in rows if row.stdout)
        return text, (rows[-1].counter if rows else after)

    # metrics

    def job_counts(self):
        with self._read() as conn:
            rows = conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all()
        return {row[0]: row[1] for row in rows}

    def duration_histogram(self, buckets):
        """Per operation: (count, sum of seconds, [count at or under each bucket]) of finished jobs."""
        cumulative = [sa.func.sum(sa.case((jobs.c.elapsed <= bound, 1), else_=0)) for bound in buckets]
        query = (sa.select(jobs.c.operation, sa.func.count(), sa.func.sum(jobs.c.elapsed), *cumulative)
                 .where(jobs.c.status.in_(FINISHED), jobs.c.elapsed.is_not(None)).group_by(jobs.c.operation))
        with self._read() as conn:
            return {row[0]: (row[1], float(row[2] or 0), [int(n or 0) for n in row[3:]]) for row in conn.execute(query)}
