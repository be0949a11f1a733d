"""The edge agent: the process on each classroom box that reads devices and talks MQTT to the hub."""
