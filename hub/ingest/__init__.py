"""MQTT ingest: receive, decode, route to the sinks, and acknowledge once stored."""
