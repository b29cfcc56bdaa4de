"""An optional Prometheus endpoint: messages captured, flags by kind, sync lag and errors, read from the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from triage.store import StoreError, open_store


class StoreCollector(Collector):
    """Reads the store at every scrape, so the numbers are those `triage status` shows."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path

    def collect(self) -> Iterator[Any]:
        try:
            store = open_store(self.store_path)
        except StoreError:
            return
        try:
            counts = store.counts()
            messages = GaugeMetricFamily("triage_messages", "Messages captured", labels=["direction"])
            messages.add_metric(["in"], counts["incoming"])
            messages.add_metric(["out"], counts["outgoing"])
            yield messages
            quarantined = GaugeMetricFamily("triage_quarantined_messages", "Messages kept in quarantine")
            quarantined.add_metric([], counts["quarantined"])
            yield quarantined
            flags = GaugeMetricFamily("triage_flags", "Open flags by kind", labels=["kind"])
            by_kind: dict[str, int] = {}
            for flag in store.list_flags(status="open"):
                by_kind[flag["kind"]] = by_kind.get(flag["kind"], 0) + 1
            for kind, number in sorted(by_kind.items()):
                flags.add_metric([kind], number)
            yield flags
            yield from folder_metrics(store.status_rows(), datetime.now(UTC))
        finally:
            store.close()


def folder_metrics(rows: list[dict[str, Any]], now: datetime) -> Iterator[GaugeMetricFamily]:
    lag = GaugeMetricFamily(
        "triage_sync_lag_seconds", "Seconds since the last successful sync", labels=["account", "folder"]
    )
    errors = GaugeMetricFamily(
        "triage_sync_error", "1 while the folder's last attempt failed", labels=["account", "folder"]
    )
    for row in rows:
        labels = [row["account"], row["role"]]
        if row["last_sync"]:
            lag.add_metric(labels, (now - datetime.fromisoformat(row["last_sync"])).total_seconds())
        errors.add_metric(labels, 1 if row["last_error"] else 0)
    yield lag
    yield errors


def serve_metrics(listen: str, store_path: Path) -> CollectorRegistry:
    """Start the /metrics endpoint on host:port in a background thread."""
    host, _, port = listen.rpartition(":")
    registry = CollectorRegistry()
    registry.register(StoreCollector(store_path))
    start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry)
    return registry
