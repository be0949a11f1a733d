"""Prometheus metrics of one hub instance, in its own registry (no import-time globals)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

#: Reasons a message is refused at the door; label values of ``hub_bad_messages_total``.
BAD_REASONS = ("topic", "payload", "too_large", "unexpected")


class HubMetrics:
    """The counters, gauges and histograms the ingest and sinks update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # process_cpu_seconds_total, resident memory, open files: what the hub costs its host.
        ProcessCollector(registry=r)
        self.messages_in = Counter(
            "hub_messages_in_total", "MQTT messages received, by topic kind", ["kind"], registry=r
        )
        self.bad_messages = Counter(
            "hub_bad_messages_total",
            "Messages refused (acknowledged, never stored), by topic kind and reason",
            ["kind", "reason"],
            registry=r,
        )
        self.bad_requests_answered = Counter(
            "hub_bad_requests_answered_total",
            "Undecodable requests answered with error.bad_request",
            registry=r,
        )
        self.events = Counter("hub_events_total", "Device events received", registry=r)
        self.requests = Counter(
            "hub_requests_total",
            "Requests decided, by type and result code (replayed: answered from the record)",
            ["type", "code"],
            registry=r,
        )
        self.write_latency = Histogram(
            "hub_influx_write_seconds",
            "Latency of one successful telemetry batch write",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.write_failures = Counter(
            "hub_influx_write_failures_total", "Failed telemetry write attempts", registry=r
        )
        self.points_rejected = Counter(
            "hub_influx_points_rejected_total",
            "Points the store refused as malformed (dropped, acknowledged)",
            registry=r,
        )
        self.batch_size = Histogram(
            "hub_telemetry_batch_size",
            "Points per telemetry batch",
            buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000),
            registry=r,
        )
        self.queue_depth = Gauge(
            "hub_queue_depth", "Items waiting in a sink's queue", ["sink"], registry=r
        )
        self.points_written = Counter(
            "hub_points_written_total", "Telemetry points written to the store", registry=r
        )
        self.registry_updates = Counter(
            "hub_registry_updates_total", "Status and heartbeat updates committed", ["kind"], registry=r
        )
        self.mqtt_connected = Gauge(
            "hub_mqtt_connected", "1 while the MQTT link is up", registry=r
        )

    def render(self) -> bytes:
        """The text exposition format for ``/metrics``."""
        return generate_latest(self.registry)
