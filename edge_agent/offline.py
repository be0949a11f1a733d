"""Decisions the edge takes alone, from its snapshots, while the hub cannot answer (pure).

The hub still decides every tap when it arrives (exactly once); a door's offline answer is only
what the reader shows. A till's offline approval is final: the hub records it and never refuses
it afterwards, which is why the till only approves within a per-card offline limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_agent.localdb import CardSpending
from edge_agent.snapshots import Balances, Roster, RosterCard
from protocol.codes import Code


@dataclass(frozen=True, slots=True)
class Decision:
    """A local answer: its code and the data for the screen."""

    code: Code
    data: dict[str, Any] = field(default_factory=dict)


def person(entry: RosterCard) -> dict[str, Any]:
    """The screen data of a roster card's holder."""
    return {
        "student": entry.student,
        "name": entry.name,
        "class": entry.class_,
        "photo_url": entry.photo_url,
    }


def card_check(roster: Roster | None, card: str) -> Decision | None:
    """A decline for a card the roster does not know or does not allow; None when it may go on."""
    entry = roster.cards.get(card) if roster is not None else None
    if entry is None:
        return Decision(Code.DECLINED_UNKNOWN_CARD, {})
    if entry.status != "active":
        return Decision(Code.DECLINED_CARD_BLOCKED, person(entry) | {"card_status": entry.status})
    return None


def door_decision(roster: Roster | None, card: str) -> Decision:
    """A door's or gate's answer from the roster: a known active card is present."""
    declined = card_check(roster, card)
    if declined is not None:
        return declined
    assert roster is not None
    entry = roster.cards[card]
    return Decision(Code.ATTENDANCE_PRESENT, person(entry) | {"status": "present"})


def till_decision(
    roster: Roster | None,
    balances: Balances | None,
    card: str,
    amount: int,
    spent: CardSpending,
    *,
    offline_limit: int | None,
    balances_from_today: bool,
) -> Decision:
    """A till's offline answer for ``amount`` đồng.

    Approved when the card is active, today's offline sales to it plus this one stay within the
    offline limit (the till's own, else the school's), and the balance snapshot less the offline
    sales no snapshot includes yet covers it (and the daily limit, if the snapshot is today's).
    """
    declined = card_check(roster, card)
    if declined is not None:
        return declined
    assert roster is not None
    who = person(roster.cards[card])
    limit = offline_limit if offline_limit is not None else (
        balances.offline_limit if balances is not None else 0
    )
    if spent.today + amount > limit:
        return Decision(
            Code.DECLINED_OFFLINE_LIMIT,
            who | {"amount": amount, "offline_limit": limit, "spent_offline": spent.today},
        )
    wallet = balances.cards.get(card) if balances is not None else None
    balance = (wallet.balance if wallet is not None else 0) - spent.unsettled
    if balance < amount:
        return Decision(Code.DECLINED_INSUFFICIENT_FUNDS, who | {"amount": amount,
                                                                "balance": balance})
    if wallet is not None and wallet.daily_limit is not None:
        spent_today = (wallet.spent_today if balances_from_today else 0) + spent.today
        if spent_today + amount > wallet.daily_limit:
            return Decision(Code.DECLINED_DAILY_LIMIT, who | {"amount": amount,
                                                             "daily_limit": wallet.daily_limit})
    return Decision(Code.APPROVED, who | {"amount": amount, "balance": balance - amount})
