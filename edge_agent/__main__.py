"""``python -m edge_agent CONFIG.toml``: run the edge agent until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import sys

from edge_agent.app import run_edge
from edge_agent.settings import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m edge_agent CONFIG.toml", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run_edge(args[0]))
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 78  # EX_CONFIG: systemd should not restart in a loop on a bad file


if __name__ == "__main__":
    sys.exit(main())
