"""The wallet API through a real uvicorn: tokens, parent isolation, top-ups, refunds, takings,
the signed payment callback and the edge balance snapshot with ETag / 304."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from hub.api.wallet import SECRET_ENV, sign
from hub.app import create_app
from hub.auth import Role
from hub.services.ledger import verify_ledger
from hub.settings import load_settings
from protocol import Code, now
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import serve, wait_until
from tests.hub.wallet.conftest import (
    BANH_MI,
    BAO,
    BLOCKED,
    COM_TAM,
    MAI_ANH,
    SCHOOL,
    People,
    decide,
    pay_request,
    seed,
)

SECRET = "khoa-bi-mat-cua-truong-le-quy-don-2026"


@pytest.fixture
def hub(mosquitto: Mosquitto, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, FastAPI, People]]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url,
                                   mqtt_client_id="hub-wallet", jwt_secret="x" * 32))
    with serve(app) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, what="hub healthy")
        yield client, app, seed(app.state.engine)


def auth(app: FastAPI, role: Role, **claims: Any) -> dict[str, str]:
    token = app.state.tokens.issue(f"{role.value}-1", role, **claims)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_parents_see_only_their_children_and_set_their_limit(
        hub: tuple[httpx.Client, FastAPI, People]) -> None:
    client, app, people = hub
    assert client.get(f"/api/v1/students/{people.mai_anh}/wallet").status_code == 401
    parent = auth(app, Role.PARENT, school=SCHOOL, students=[people.mai_anh])
    decide(app.state.engine, pay_request(MAI_ANH, BANH_MI))
    mine = client.get(f"/api/v1/students/{people.mai_anh}/wallet", headers=parent)
    assert mine.status_code == 200
    assert mine.json() == {"student": people.mai_anh, "name": "Nguyễn Thị Mai Anh",
                           "balance": 85_000, "daily_limit": None, "spent_today": 0}
    items = client.get(f"/api/v1/students/{people.mai_anh}/wallet/history",
                       headers=parent).json()["items"]
    assert [(i["kind"], i["amount"]) for i in items] == [("purchase", -BANH_MI),
                                                         ("topup", 100_000)]
    for path in ("wallet", "wallet/history"):
        other = client.get(f"/api/v1/students/{people.bao}/{path}", headers=parent)
        assert other.status_code == 403 and other.json()["detail"]["vi"] == "Không có quyền"
    assert client.put(f"/api/v1/students/{people.bao}/daily-limit", json={"daily_limit": 0},
                      headers=parent).status_code == 403
    put = client.put(f"/api/v1/students/{people.mai_anh}/daily-limit",
                     json={"daily_limit": 20_000}, headers=parent)
    assert put.status_code == 200
    assert decide(app.state.engine, pay_request(MAI_ANH, COM_TAM)).code is Code.DECLINED_DAILY_LIMIT
    # A parent cannot top up at the office, nor a cashier see another school's wallets.
    assert client.post(f"/api/v1/students/{people.mai_anh}/wallet/topups",
                       json={"amount": 10_000}, headers=parent).status_code == 403
    stranger = auth(app, Role.STAFF, school="thpt-nguyen-du")
    assert client.get(f"/api/v1/students/{people.bao}/wallet",
                      headers=stranger).status_code == 403


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_top_up_refund_and_takings(hub: tuple[httpx.Client, FastAPI, People]) -> None:
    client, app, people = hub
    staff = auth(app, Role.STAFF, school=SCHOOL)
    path = f"/api/v1/students/{people.bao}/wallet/topups"
    body = {"amount": 200_000, "reference": "PT-2026-0042", "note": "Phụ huynh nộp tiền mặt"}
    first = client.post(path, json=body, headers=staff)
    again = client.post(path, json=body, headers=staff)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["balance"] == again.json()["balance"] == 260_000
    assert client.post(path, json={"amount": -5}, headers=staff).status_code == 422

    decide(app.state.engine, pay_request(BAO, COM_TAM))
    decide(app.state.engine, pay_request(BAO, BANH_MI))
    sale = client.get(f"/api/v1/students/{people.bao}/wallet/history",
                      headers=staff).json()["items"][0]
    cashier = auth(app, Role.CASHIER, school=SCHOOL)
    refunded = client.post(f"/api/v1/wallet/transactions/{sale['id']}/refund",
                           json={"note": "Bánh mì hết"}, headers=cashier)
    assert refunded.status_code == 201 and refunded.json()["balance"] == 235_000
    twice = client.post(f"/api/v1/wallet/transactions/{sale['id']}/refund", headers=cashier)
    assert twice.status_code == 409
    assert twice.json()["detail"] == {"vi": "Giao dịch đã được hoàn tiền",
                                      "en": "Purchase already refunded"}
    day = client.get(f"/api/v1/schools/{SCHOOL}/takings",
                     params={"start": "2026-11-20", "end": "2026-11-21"}, headers=cashier)
    assert day.status_code == 200
    assert day.json()["days"] == [
        {"day": "2026-11-20", "count": 2, "sum": COM_TAM + BANH_MI, "refunds": 0,
         "net": COM_TAM + BANH_MI},
        {"day": "2026-11-21", "count": 0, "sum": 0, "refunds": 0, "net": 0}]
    parent = auth(app, Role.PARENT, school=SCHOOL, students=[people.bao])
    assert client.get(f"/api/v1/schools/{SCHOOL}/takings", headers=parent).status_code == 403
    with Session(app.state.engine) as session:
        assert verify_ledger(session) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_payment_callback_needs_a_good_signature_and_applies_once(
        hub: tuple[httpx.Client, FastAPI, People]) -> None:
    client, app, people = hub
    body = json.dumps({"reference": "VCB-20261120-000123", "school": SCHOOL,
                       "student_code": "HS0001", "amount": 300_000}).encode()
    url = "/api/v1/payments/callback"
    forged = client.post(url, content=body, headers={"X-Signature": sign("sai-khoa", body)})
    assert forged.status_code == 401 and forged.json()["detail"]["en"] == "Bad signature"
    assert client.post(url, content=body).status_code == 401
    good = {"X-Signature": sign(SECRET, body), "Content-Type": "application/json"}
    replies = [client.post(url, content=body, headers=good) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [r.json()["applied"] for r in replies] == [True, False, False]
    staff = auth(app, Role.STAFF, school=SCHOOL)
    wallet = client.get(f"/api/v1/students/{people.mai_anh}/wallet", headers=staff).json()
    assert wallet["balance"] == 400_000
    unknown = json.dumps({"reference": "VCB-2", "school": SCHOOL, "student_code": "HS9999",
                          "amount": 1_000}).encode()
    assert client.post(url, content=unknown,
                       headers={"X-Signature": sign(SECRET, unknown)}).status_code == 422


def test_the_edge_snapshot_has_a_version_and_answers_304(
        hub: tuple[httpx.Client, FastAPI, People]) -> None:
    client, app, people = hub
    edge = auth(app, Role.EDGE, school=SCHOOL)
    url = "/api/v1/edge/balances"
    assert client.get(url, params={"school": SCHOOL},
                      headers=auth(app, Role.PARENT, students=[people.bao])).status_code == 403
    assert client.get(url, params={"school": "thpt-nguyen-du"}, headers=edge).status_code == 403
    decide(app.state.engine, pay_request(BAO, BANH_MI, ts=now()))
    first = client.get(url, params={"school": SCHOOL}, headers=edge)
    assert first.status_code == 200
    snapshot = first.json()
    assert first.headers["ETag"] == f'"{snapshot["version"]}"'
    assert snapshot["school"] == SCHOOL and snapshot["offline_limit"] == 50_000
    assert snapshot["cards"] == {
        MAI_ANH: {"balance": 100_000, "daily_limit": None, "spent_today": 0},
        BAO: {"balance": 45_000, "daily_limit": 40_000, "spent_today": BANH_MI}}
    assert BLOCKED not in snapshot["cards"]
    same = client.get(url, params={"school": SCHOOL},
                      headers={**edge, "If-None-Match": first.headers["ETag"]})
    assert same.status_code == 304 and same.content == b""
    decide(app.state.engine, pay_request(MAI_ANH, COM_TAM, ts=now()))
    changed = client.get(url, params={"school": SCHOOL},
                         headers={**edge, "If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.json()["version"] != snapshot["version"]
    assert changed.json()["cards"][MAI_ANH]["balance"] == 75_000
