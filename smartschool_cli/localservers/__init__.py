"""Private servers started on free loopback ports, for the demo and the test suite."""
