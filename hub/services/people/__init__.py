"""Schools' people and cards: file import, one-at-a-time changes, the edge roster snapshot."""

from __future__ import annotations

from hub.services.people.importer import KINDS, ImportReport, Rejection, import_file
from hub.services.people.roster import (
    bump_roster,
    normalise_card,
    roster_snapshot,
    roster_version,
)
from hub.services.people.sheets import ImportFileError

__all__ = ["KINDS", "ImportFileError", "ImportReport", "Rejection", "bump_roster", "import_file",
           "normalise_card", "roster_snapshot", "roster_version"]
