"""Routes outside /api/v1's auth: the OpenAPI document (public) and Prometheus metrics (admin)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from .auth import require_admin
from .openapi import openapi_document
from .store import STATUSES

bp = Blueprint("meta", __name__)
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class JobCollector:
    """Figures read from the database at each scrape, so every API process reports the same totals."""

    def __init__(self, store):
        self.store = store

    def collect(self):
        counts = self.store.job_counts()
        jobs = GaugeMetricFamily("vmm_jobs", "Jobs by status.", labels=["status"])
        for status in STATUSES:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        yield GaugeMetricFamily("vmm_job_queue_depth", "Jobs waiting for a worker or for their target's lock.",
                                value=counts.get("pending", 0))
        durations = HistogramMetricFamily("vmm_job_duration_seconds", "Run time of finished jobs.",
                                          labels=["operation"])
        for operation, (count, total, cumulative) in sorted(self.store.duration_histogram(DURATION_BUCKETS).items()):
            buckets = [(str(bound), n) for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)]
            durations.add_metric([operation], buckets + [("+Inf", count)], total)
        yield durations


def metrics_registry(store):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector(store))
    return registry


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/metrics")
def metrics():
    require_admin()
    return Response(generate_latest(current_app.extensions["vmm"].metrics), content_type=CONTENT_TYPE_LATEST)
