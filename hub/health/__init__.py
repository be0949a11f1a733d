"""Device health for technicians: inventory, alert rules, the alerts' lifecycle and webhook."""
