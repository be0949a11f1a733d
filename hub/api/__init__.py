"""HTTP API routers of the hub."""
