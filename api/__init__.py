"""vmm's jobs API: a Flask app that runs the collection's playbooks as jobs through ansible-runner."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from flask import Flask

from .config import ROOT, Settings

# The vmm.cloud collection of this checkout, importable as ansible_collections.vmm.cloud (its argument
# specs are the schemas of the operations; the API imports nothing of it that talks to libvirt).
if str(ROOT / "collections") not in sys.path:
    sys.path.append(str(ROOT / "collections"))


@dataclass
class Services:
    settings: Settings
    store: object
    jobs: object
    access: object
    metrics: object
    ha: object
    directory: object
    sync: object
    backups: object
    pools: object
    notifier: object


def build_services(settings):
    """The store and the services over it; nothing started yet (`start_services` runs the job service)."""
    from . import meta
    from .access import Access
    from .backup_policies import BackupSchedule
    from .directory import Directory
    from .ha_watch import HaWatcher
    from .jobs import JobService
    from .nodes import NodeList
    from .notify import Notifier
    from .pools import PoolReport
    from .private import private_data_dir
    from .quotas import Quotas
    from .schedule import SyncSchedule
    from .store import Store

    private_data_dir(settings)
    store = Store(settings.database)
    store.create_schema()
    notifier = Notifier(settings, store)
    directory = Directory(store, notifier)
    jobs = JobService(settings, store, directory, notifier)
    node_list = NodeList(settings)
    return Services(settings=settings, store=store, jobs=jobs, access=Access(store, Quotas(store)),
                    metrics=meta.metrics_registry(store), ha=HaWatcher(settings, jobs, node_list),
                    directory=directory, sync=SyncSchedule(settings, jobs, store),
                    backups=BackupSchedule(settings, jobs, store),
                    pools=PoolReport(node_list, store), notifier=notifier)


def start_services(services):
    """Workers, HA watcher and sync schedule: each only when `settings.workers` > 0 (and its interval)."""
    services.jobs.start()
    services.ha.start()
    services.sync.start()
    services.backups.start()
    services.notifier.start()


def stop_services(services):
    services.notifier.stop()
    services.ha.stop()
    services.sync.stop()
    services.backups.stop()
    services.jobs.stop()


def create_app(settings=None):
    from . import directory_views, errors, meta, views
    from .backup_policies import bp as backup_policies_bp
    from .email_notices import bp as email_bp
    from .tokens import bp as tokens_bp
    from .webhooks import bp as webhooks_bp

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    services = build_services(settings)
    app.extensions["vmm"] = services
    errors.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(directory_views.bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(backup_policies_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(email_bp)
    app.register_blueprint(meta.bp)
    start_services(services)
    return app
