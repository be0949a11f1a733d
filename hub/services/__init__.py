"""Domain services: what the hub decides (attendance, payments, loans), one module each."""
