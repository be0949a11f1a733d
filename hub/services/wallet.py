"""Canteen payments (``pay`` requests) and the balance snapshot offline tills sell from.

Online, the hub decides: unknown or blocked card, insufficient funds, daily limit, else the
wallet is debited and the canteen's takings credited. Offline (``offline: true``) the till has
already approved the sale and handed over the food: the hub records it whatever the balance,
flags it when the wallet goes below zero (or the card was blocked meanwhile), never refuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from hub.db.ledger import PURCHASE, TAKINGS, AccountRow, TransactionRow
from hub.db.people import CARD_ACTIVE, CardRow, SchoolRow, StudentRow
from hub.services.ledger import day_bounds, house_account, lock_wallet, post, spent_between
from hub.services.requests import Outcome, RequestContext
from protocol import Code

log = logging.getLogger(__name__)


def pay_reference(request_id: object) -> str:
    """The ledger reference of a till request: its id, so a retry is applied once."""
    return f"req:{request_id}"


_COLUMNS = (CardRow.status, StudentRow.id, StudentRow.full_name, StudentRow.school,
            StudentRow.daily_limit, SchoolRow.timezone,
            exists().where(TransactionRow.reference == bindparam("reference")).label("done"))
#: Built once: composing the statement cost more than running it.
_CARD_LOOKUP = (select(*_COLUMNS).join(StudentRow, StudentRow.id == CardRow.student_id)
                .join(SchoolRow, SchoolRow.id == StudentRow.school)
                .where(CardRow.card == bindparam("card")))
_PAY_LOOKUP = (select(*_COLUMNS, AccountRow.id, AccountRow.balance)
               .join(StudentRow, StudentRow.id == CardRow.student_id)
               .join(SchoolRow, SchoolRow.id == StudentRow.school)
               .join(AccountRow, AccountRow.student_id == StudentRow.id)
               .where(CardRow.card == bindparam("card")).with_for_update(of=AccountRow))


def handle_pay(session: Session, context: RequestContext) -> Outcome:
    """Decide one ``pay`` request inside the open transaction (the ``Handler`` for "pay")."""
    pay = context.request
    reference = pay_reference(pay.id)
    # One round trip finds the card, its student and their wallet, and locks the wallet.
    connection = session.connection()
    params = {"card": pay.card, "reference": reference}
    row: Any = connection.execute(_PAY_LOOKUP, params).first()
    if row is not None:
        wallet_id, balance = row[-2], row[-1]
    else:  # no wallet yet (or no such card): look the card up alone
        row = connection.execute(_CARD_LOOKUP, params).first()
    # A card of another school is unknown here: a till cannot spend another school's wallets.
    if row is None or row.school != context.school:
        if pay.offline:
            log.warning("offline sale %s on unknown card %s at %s/%s not recorded",
                        pay.id, pay.card, context.school, context.edge)
        return Outcome(Code.DECLINED_UNKNOWN_CARD)
    name = row.full_name
    if len(row) == len(_COLUMNS):
        wallet_id, balance = lock_wallet(session, row.id, row.school)
    if row.done:  # applied already (the request record was lost, never the ledger row)
        return Outcome(Code.APPROVED, {"balance": balance, "amount": pay.amount, "name": name})
    blocked = row.status != CARD_ACTIVE
    if not pay.offline:
        if blocked:
            return Outcome(Code.DECLINED_CARD_BLOCKED, {"name": name})
        if pay.amount > balance:
            return Outcome(Code.DECLINED_INSUFFICIENT_FUNDS,
                           {"balance": balance, "amount": pay.amount, "name": name})
        if row.daily_limit is not None:
            start, end = day_bounds(pay.ts, row.timezone)
            spent = spent_between(session, [wallet_id], start, end).get(wallet_id, 0)
            if spent + pay.amount > row.daily_limit:
                return Outcome(Code.DECLINED_DAILY_LIMIT,
                               {"daily_limit": row.daily_limit, "spent_today": spent,
                                "amount": pay.amount, "name": name})
    flagged = pay.offline and (balance - pay.amount < 0 or blocked)
    posted = post(session, kind=PURCHASE, reference=reference, school=row.school,
                  wallet_id=wallet_id, amount=pay.amount,
                  counter_account=house_account(session, row.school, TAKINGS),
                  wallet_delta=-pay.amount, ts=pay.ts, offline=pay.offline, flagged=flagged,
                  created_by=f"edge:{context.edge}", device=f"{context.edge}/{pay.device}",
                  card=pay.card)
    data: dict[str, Any] = {"balance": posted.balance, "amount": pay.amount, "name": name}
    if flagged:
        data["flagged"] = True
        log.warning("offline sale %s flagged: wallet %s at %s", pay.id, wallet_id, posted.balance)
    return Outcome(Code.APPROVED, data)


def balances_snapshot(session: Session, school: SchoolRow,
                      now: datetime | None = None) -> dict[str, Any]:
    """What an offline till needs per active card of ``school``, with a version that changes
    whenever any of it does (a balance, a limit, a card's state, the day)."""
    now = now or datetime.now(UTC)
    start, end = day_bounds(now, school.timezone)
    rows = session.execute(
        select(CardRow.card, StudentRow.daily_limit, AccountRow.id, AccountRow.balance)
        .join(StudentRow, StudentRow.id == CardRow.student_id)
        .outerjoin(AccountRow, AccountRow.student_id == StudentRow.id)
        .where(StudentRow.school == school.id, StudentRow.active.is_(True),
               CardRow.status == CARD_ACTIVE)
        .order_by(CardRow.card)).all()
    wallets = [wallet for _, _, wallet, _ in rows if wallet is not None]
    spent = spent_between(session, None, start, end, school.id) if wallets else {}
    cards = {card: {"balance": int(balance or 0), "daily_limit": limit,
                    "spent_today": spent.get(wallet, 0) if wallet is not None else 0}
             for card, limit, wallet, balance in rows}
    last = session.scalar(select(func.max(TransactionRow.id))
                          .where(TransactionRow.school == school.id)) or 0
    body = {"school": school.id, "offline_limit": school.offline_limit, "cards": cards,
            "day": now.astimezone(ZoneInfo(school.timezone)).date().isoformat()}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": f"{last}-{digest}", "school": school.id,
            "offline_limit": school.offline_limit, "cards": cards}
