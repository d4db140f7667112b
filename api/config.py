"""Settings of the API, from `VMM_API_*` environment variables (or a test's overrides)."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path("/var/lib/vmm/api")


@dataclass(frozen=True)
class Settings:
    database: str = f"sqlite:///{DATA_DIR / 'vmm.db'}"  # an SQLAlchemy URL
    data_dir: Path = DATA_DIR  # each job's private ansible-runner directory lives under data_dir/jobs
    project_dir: Path = ROOT  # where the playbooks and ansible.cfg are
    inventory: str = ""  # empty: the one ansible.cfg names
    workers: int = 4  # jobs this process runs at once; 0 = serve only, other processes run the jobs
    max_body: int = 1024 * 1024  # cloud-init user_data included
    page_size: int = 25
    max_page_size: int = 200
    follow_timeout: int = 3600  # a followed stdout ends after this many seconds even if the job goes on
    poll_interval: float = 0.5  # how often a running job's new events are read, and a queue shared
    # with other processes is looked at
    ha_interval: float = 30.0  # seconds between the HA watcher's looks at the nodes; 0 = no watcher
    job_nice: int = 10  # niceness of jobs' runners: requests keep the CPU they need while jobs run; 0 = none
    serve_rt_priority: int = 1  # SCHED_RR priority of the threads of `serve` handling requests (api/realtime.py):
    # a request never waits behind the jobs' playbooks for a time slice; 0 = normal scheduling
    sync_interval: float = 300.0  # seconds between scheduled inventory_sync jobs; 0 = none
    backup_interval: float = 30.0  # seconds between looks for backup policies that are due; 0 = none
    webhook_interval: float = 2.0  # seconds between looks for webhook deliveries that are due; 0 = none sent
    webhook_attempts: int = 5  # a delivery is given up after this many attempts
    webhook_backoff: float = 2.0  # seconds before the second attempt; doubled for each further one
    webhook_max_backoff: float = 300.0
    smtp_host: str = ""  # email notices (api/email_notices.py); empty: none are sent
    smtp_port: int = 25
    smtp_from: str = "vmm@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: int = 0  # 1: STARTTLS before the login

    def nodes_inventory(self):
        """The node inventory the jobs run against: `inventory`, else the one ansible.cfg names."""
        if self.inventory:
            return str(self.inventory)
        config = configparser.ConfigParser(interpolation=None)
        config.read(Path(self.project_dir) / "ansible.cfg")
        named = config.get("defaults", "inventory", fallback="").split(",")[0].strip()
        if not named:
            raise ValueError("no inventory: set VMM_API_INVENTORY or [defaults] inventory in ansible.cfg")
        return str((Path(self.project_dir) / named).resolve())
    max_queued_per_token: int = 20  # jobs pending or waiting per token (a token may have its own); 0 = no cap
    secret_key_file: str = ""  # Fernet key of the secrets in jobs' vars; empty: data_dir/secret.key, made at
    # first start. API processes sharing a database must share this key.

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        values = {}
        for field in fields(cls):
            raw = env.get(f"VMM_API_{field.name.upper()}")
            if raw is None:
                continue
            kind = type(field.default)
            try:
                values[field.name] = kind(raw)
            except ValueError:
                raise ValueError(f"VMM_API_{field.name.upper()}: expected {kind.__name__}, got {raw!r}") from None
        return replace(cls(**values), **overrides)
