"""Where the hub keeps telemetry (InfluxDB)."""
