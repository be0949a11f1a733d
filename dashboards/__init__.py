"""Grafana dashboards generated from the driver SPECs (see build.py)."""
