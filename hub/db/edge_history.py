"""The history of edges' connection states, for availability over a period (reports).

The registry keeps only an edge's current state; this table keeps every change it accepted,
so the time an edge spent online over a quarter can be summed afterwards.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.models import Base, EdgeRow


class EdgeStateChangeRow(Base):
    """One accepted change of an edge's state, at the ``ts`` of the status that made it."""

    __tablename__ = "edge_state_changes"
    __table_args__ = (Index("ix_edge_state_changes_edge_ts", "school", "edge", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def record_state_change(session: Session, row: EdgeRow, state: str, ts: datetime) -> None:
    """Remember that ``row`` turns ``state`` at ``ts``, unless it is in that state already."""
    if row.state == state and row.since is not None:
        return  # a repeated birth or a redelivered status: no change to record
    session.add(EdgeStateChangeRow(school=row.school, edge=row.edge, state=state, ts=ts))
