"""vmm's jobs API: a Flask app that runs the collection's playbooks as jobs through ansible-runner."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from flask import Flask

from .config import ROOT, Settings

# The vmm.cloud collection of this checkout, importable as ansible_collections.vmm.cloud
# (its module's argument spec is the schema of vm_create; its libvirt client reads VM owners).
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


def create_app(settings=None):
    from . import errors, meta, views
    from .access import Access
    from .ha_watch import HaWatcher
    from .jobs import JobService
    from .nodes import NodeList
    from .private import private_data_dir
    from .store import Store
    from .tokens import bp as tokens_bp
    from .vms import VmDirectory

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    private_data_dir(settings)
    store = Store(settings.database)
    store.create_schema()
    jobs = JobService(settings, store)
    node_list = NodeList(settings)
    app.extensions["vmm"] = Services(settings=settings, store=store, jobs=jobs,
                                     access=Access(VmDirectory(settings.libvirt_uri, node_list)),
                                     metrics=meta.metrics_registry(store), ha=HaWatcher(settings, jobs, node_list))
    errors.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(meta.bp)
    jobs.start()
    app.extensions["vmm"].ha.start()
    return app
