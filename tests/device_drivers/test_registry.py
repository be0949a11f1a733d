"""The registry of device families."""

from __future__ import annotations


def test_every_family_kind_is_a_wire_identifier() -> None:
    """Kinds go out in the birth message, where identifiers allow only [a-z0-9-]."""
    from device_drivers import registry
    from protocol.topics import is_ident

    for name in registry.names():
        assert is_ident(registry.get(name).kind), name
