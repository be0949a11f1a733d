"""The inventory of edge boxes and devices: what was bought, where it hangs, until when it is
covered. ``device`` is "" for the edge box itself.

Keyed by the asset tag stuck on the hardware (mã tài sản); the slot (school, edge, device) is
where it serves now. Firmware and room are kept current from the edges' births when known.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base

#: ``device`` of the row that stands for the edge box itself.
BOX = ""


class InventoryRow(Base):
    """One piece of hardware: an edge box or a device wired to one."""

    __tablename__ = "inventory"
    __table_args__ = (Index("ix_inventory_slot", "school", "edge", "device"),)

    asset_tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    school: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64), default=BOX)
    room: Mapped[str] = mapped_column(String(64), default="")
    install_date: Mapped[date | None] = mapped_column(Date)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    firmware: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
