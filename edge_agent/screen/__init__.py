"""The local door/till screen: a small web page served by the box, updated live."""

from edge_agent.screen.server import ScreenServer

__all__ = ["ScreenServer"]
