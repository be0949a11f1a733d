"""Wallet API: balance and history, top-ups, refunds, daily limits, takings, the edge snapshot,
and the payment provider's signed callback.

Every route takes a token (hub/auth.py) except the provider's callback, which is authenticated by
an HMAC-SHA256 signature of its body (``X-Signature: sha256=<hex>``) with the deployment's secret:
``payment_callback_secret`` in the hub settings when they have it, else the environment variable
``SS_PAYMENT_CALLBACK_SECRET``. Without a secret the callback answers 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth import Principal, Role, forbid_unless, require
from hub.db.ledger import (
    CHANNEL_BANK,
    CHANNEL_CASH,
    PURCHASE,
    REFUND,
    AccountRow,
    EntryRow,
    TransactionRow,
    wallet_key,
)
from hub.db.people import SchoolRow, StudentRow
from hub.services.ledger import (
    LedgerError,
    day_bounds,
    local_day_start,
    refund,
    spent_between,
    top_up,
    utc,
)
from hub.services.wallet import balances_snapshot

router = APIRouter(tags=["wallet"])
SCHOOL_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
REFERENCE = r"^[\x21-\x7e]{1,100}$"
SECRET_ENV = "SS_PAYMENT_CALLBACK_SECRET"
T = TypeVar("T")

Staff = Annotated[Principal, require(Role.ADMIN, Role.STAFF)]
Viewer = Annotated[Principal, require(Role.ADMIN, Role.STAFF, Role.CASHIER, Role.PARENT)]
Till = Annotated[Principal, require(Role.ADMIN, Role.STAFF, Role.CASHIER)]


def _error(code: int, vi: str, en: str) -> HTTPException:
    return HTTPException(code, detail={"vi": vi, "en": en})


def _transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction; a unique key lost to a concurrent twin is retried once
    (the second run finds the twin's row and answers as a replay)."""
    engine: Engine = request.app.state.engine
    for attempt in (1, 2):
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                return work(session)
        except IntegrityError:
            if attempt == 2:
                raise
        except LedgerError as error:
            raise _error(error.status, error.vi, error.en) from None
    raise AssertionError("unreachable")


def _student(session: Session, caller: Principal, student_id: int) -> StudentRow:
    """The student, if the caller may see them (a parent: only their own children)."""
    forbid_unless(caller.role is not Role.PARENT or student_id in caller.students)
    student = session.get(StudentRow, student_id)
    if student is None:
        raise _error(404, "Không tìm thấy học sinh", "Student not found")
    forbid_unless(caller.can_see_student(student.school, student_id))
    return student


def _school(session: Session, caller: Principal, school_id: str) -> SchoolRow:
    forbid_unless(caller.can_see_school(school_id))
    school = session.get(SchoolRow, school_id)
    if school is None:
        raise _error(404, "Không tìm thấy trường", "School not found")
    return school


@router.get("/api/v1/students/{student_id}/wallet")
def wallet(request: Request, student_id: int, caller: Viewer) -> dict[str, Any]:
    """A student's balance, daily limit and what they spent today."""

    def work(session: Session) -> dict[str, Any]:
        student = _student(session, caller, student_id)
        school = session.get(SchoolRow, student.school)
        account = session.execute(select(AccountRow.id, AccountRow.balance).where(
            AccountRow.key == wallet_key(student_id))).first()
        spent = 0
        if account is not None and school is not None:
            start, end = day_bounds(datetime.now(UTC), school.timezone)
            spent = spent_between(session, [account.id], start, end).get(account.id, 0)
        return {"student": student_id, "name": student.full_name,
                "balance": account.balance if account else 0,
                "daily_limit": student.daily_limit, "spent_today": spent}

    return _transaction(request, work)


@router.get("/api/v1/students/{student_id}/wallet/history")
def history(request: Request, student_id: int, caller: Viewer,
            limit: int = Query(50, ge=1, le=500),
            before: int | None = Query(None, ge=1)) -> dict[str, Any]:
    """A student's wallet transactions, newest first; page with ``before`` (a transaction id)."""

    def work(session: Session) -> dict[str, Any]:
        _student(session, caller, student_id)
        account = session.scalar(select(AccountRow.id).where(
            AccountRow.key == wallet_key(student_id)))
        query = (select(TransactionRow, EntryRow.amount)
                 .join(EntryRow, EntryRow.transaction_id == TransactionRow.id)
                 .where(EntryRow.account_id == account)
                 .order_by(TransactionRow.id.desc()).limit(limit))
        if before is not None:
            query = query.where(TransactionRow.id < before)
        items = [{"id": t.id, "kind": t.kind, "ts": utc(t.ts).isoformat(), "amount": amount,
                  "device": t.device, "offline": t.offline, "flagged": t.flagged,
                  "reverses": t.reverses_id, "note": t.note}
                 for t, amount in session.execute(query)] if account is not None else []
        return {"student": student_id, "items": items}

    return _transaction(request, work)


class TopUpBody(BaseModel):
    """A cash top-up at the school office."""

    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10_000_000)
    #: The receipt number: the same reference twice is applied once.
    reference: str | None = Field(default=None, pattern=REFERENCE)
    note: str = Field(default="", max_length=500)


@router.post("/api/v1/students/{student_id}/wallet/topups", status_code=201)
def top_up_cash(request: Request, response: Response, student_id: int, body: TopUpBody,
                caller: Staff) -> dict[str, Any]:
    """Credit a wallet with cash taken at the office (201; 200 when the reference was applied)."""
    reference = f"{CHANNEL_CASH}:{body.reference or uuid.uuid4()}"

    def work(session: Session) -> dict[str, Any]:
        student = _student(session, caller, student_id)
        posted = top_up(session, school=student.school, student_id=student_id,
                        amount=body.amount, channel=CHANNEL_CASH, reference=reference,
                        created_by=f"{caller.role.value}:{caller.subject}", note=body.note)
        if not posted.applied:
            response.status_code = status.HTTP_200_OK
        return {"transaction": posted.transaction_id, "balance": posted.balance,
                "applied": posted.applied}

    return _transaction(request, work)


class RefundBody(BaseModel):
    """Why a purchase is refunded."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


@router.post("/api/v1/wallet/transactions/{transaction_id}/refund", status_code=201)
def refund_purchase(request: Request, transaction_id: int, caller: Till,
                    body: RefundBody | None = None) -> dict[str, Any]:
    """Reverse a purchase (once): the money goes back to the wallet."""

    def work(session: Session) -> dict[str, Any]:
        school = session.scalar(select(TransactionRow.school).where(
            TransactionRow.id == transaction_id))
        if school is None:
            raise _error(404, "Không tìm thấy giao dịch", "Transaction not found")
        forbid_unless(caller.can_see_school(school))
        posted = refund(session, transaction_id=transaction_id,
                        created_by=f"{caller.role.value}:{caller.subject}",
                        note=body.note if body else "")
        return {"transaction": posted.transaction_id, "refunds": transaction_id,
                "balance": posted.balance}

    return _transaction(request, work)


class DailyLimitBody(BaseModel):
    """A student's daily spending limit; null removes it."""

    model_config = ConfigDict(extra="forbid")

    daily_limit: int | None = Field(ge=0, le=10_000_000)


@router.put("/api/v1/students/{student_id}/daily-limit")
def set_daily_limit(request: Request, student_id: int, body: DailyLimitBody,
                    caller: Annotated[Principal, require(Role.PARENT, Role.STAFF, Role.ADMIN)],
                    ) -> dict[str, Any]:
    """Set (or remove) how much a student may spend at the canteen per day."""

    def work(session: Session) -> dict[str, Any]:
        student = _student(session, caller, student_id)
        student.daily_limit = body.daily_limit
        return {"student": student_id, "daily_limit": body.daily_limit}

    return _transaction(request, work)


@router.get("/api/v1/schools/{school_id}/takings")
def takings(request: Request, school_id: Annotated[str, Path(pattern=SCHOOL_ID)],
            caller: Till, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """The canteen's takings per local day from ``start`` to ``end`` (inclusive; default today):
    purchases (count, sum), refunds given that day, and the net."""

    def work(session: Session) -> dict[str, Any]:
        school = _school(session, caller, school_id)
        zone = ZoneInfo(school.timezone)
        first = start or datetime.now(zone).date()
        last = end or first
        if last < first or (last - first).days > 366:
            raise _error(422, "Khoảng ngày không hợp lệ (tối đa 366 ngày)",
                         "Bad date range (366 days at most)")
        days = {first + timedelta(days=i): {"count": 0, "sum": 0, "refunds": 0}
                for i in range((last - first).days + 1)}
        rows = session.execute(select(TransactionRow.ts, TransactionRow.kind,
                                      TransactionRow.amount)
                               .where(TransactionRow.school == school_id,
                                      TransactionRow.kind.in_((PURCHASE, REFUND)),
                                      TransactionRow.ts >= local_day_start(first, zone),
                                      TransactionRow.ts < local_day_start(
                                          last + timedelta(days=1), zone)))
        for ts, kind, amount in rows:
            day = days[utc(ts).astimezone(zone).date()]
            if kind == PURCHASE:
                day["count"] += 1
                day["sum"] += amount
            else:
                day["refunds"] += amount
        return {"school": school_id, "days": [
            {"day": d.isoformat(), **v, "net": v["sum"] - v["refunds"]} for d, v in days.items()]}

    return _transaction(request, work)


@router.get("/api/v1/edge/balances")
def edge_balances(request: Request, response: Response,
                  caller: Annotated[Principal, require(Role.EDGE, Role.STAFF, Role.ADMIN)],
                  school: str = Query(pattern=SCHOOL_ID),
                  if_none_match: Annotated[str | None, Header()] = None) -> Any:
    """Balances per active card for offline tills; ``ETag`` is the quoted version and a
    matching ``If-None-Match`` gets 304 without a body."""

    def work(session: Session) -> dict[str, Any]:
        return balances_snapshot(session, _school(session, caller, school))

    snapshot = _transaction(request, work)
    etag = f'"{snapshot["version"]}"'
    if if_none_match is not None and any(
            tag.strip().removeprefix("W/").strip('"') == snapshot["version"]
            for tag in if_none_match.split(",")):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return snapshot


class PaymentCallback(BaseModel):
    """A parent's transfer, as the payment provider reports it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    #: The provider's transaction reference: applied once however often it is reported.
    reference: str = Field(pattern=REFERENCE)
    school: str = Field(pattern=SCHOOL_ID)
    #: The student's code (mã học sinh) the parent wrote in the transfer.
    student_code: str = Field(min_length=1, max_length=32)
    amount: int = Field(gt=0, le=100_000_000)


def callback_secret(request: Request) -> str | None:
    """The HMAC secret: the hub settings' ``payment_callback_secret`` or the environment."""
    secret = getattr(request.app.state.settings, "payment_callback_secret", None)
    return secret or os.environ.get(SECRET_ENV) or None


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post("/api/v1/payments/callback")
async def payment_callback(request: Request,
                           x_signature: Annotated[str | None, Header()] = None) -> Any:
    """Top up a wallet from the provider's signed report of a parent's transfer (idempotent)."""
    secret = callback_secret(request)
    if not secret:
        raise _error(503, "Chưa cấu hình khóa thanh toán", "Payment callback not configured")
    body = await request.body()
    given = (x_signature or "").strip()
    if not given.startswith("sha256="):
        given = "sha256=" + given
    if x_signature is None or not hmac.compare_digest(sign(secret, body), given):
        raise _error(401, "Chữ ký không hợp lệ", "Bad signature")
    try:
        report = PaymentCallback.model_validate_json(body)
    except ValidationError:
        raise _error(422, "Dữ liệu không hợp lệ", "Invalid payload") from None

    def work(session: Session) -> dict[str, Any]:
        student_id = session.scalar(select(StudentRow.id).where(
            StudentRow.school == report.school, StudentRow.code == report.student_code))
        if student_id is None:
            raise _error(422, "Không tìm thấy học sinh", "Unknown student")
        posted = top_up(session, school=report.school, student_id=student_id,
                        amount=report.amount, channel=CHANNEL_BANK,
                        reference=f"{CHANNEL_BANK}:{report.reference}",
                        created_by="payment-callback")
        return {"applied": posted.applied, "transaction": posted.transaction_id,
                "balance": posted.balance}

    # The database work blocks: keep it off the event loop.
    return await asyncio.to_thread(_transaction, request, work)
