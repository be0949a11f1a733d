"""The live views need a viewer's token: by header, or by the cookie a display signs in with."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.auth import SESSION_COOKIE, Role, TokenSigner
from hub.live import LiveState
from tests.hub.web.conftest import TEST_SECRET, Feeder, WallServer, make_app

SIGNER = TokenSigner(TEST_SECRET)
WALL = SIGNER.issue("noc-wall-1", Role.WALL)
LIVE = ["/api/v1/live", "/api/v1/live/city", "/api/v1/live/city/map",
        "/api/v1/live/stream", "/api/v1/live/city/stream"]
TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture
def server(live: LiveState) -> Iterator[WallServer]:
    """The wall routes as the hub serves them: signed-in callers only."""
    served = WallServer(make_app(live, signed_in=False))
    served.start()
    yield served
    served.stop()


def _status(url: str, **headers: str) -> int:
    with httpx.stream("GET", url, headers=headers, timeout=TIMEOUT) as resp:
        return resp.status_code  # read no further: a stream would go on


def test_without_a_token_the_pages_load_but_the_data_does_not(server: WallServer) -> None:
    assert httpx.get(f"{server.url}/wall", timeout=TIMEOUT).status_code == 200
    assert httpx.get(f"{server.url}/wall/city", timeout=TIMEOUT).status_code == 200
    for path in LIVE:
        assert _status(server.url + path) == 401, path
    answer = httpx.get(f"{server.url}/api/v1/live", timeout=TIMEOUT)
    assert "/wall/login" in answer.json()["detail"]["en"]
    assert "chưa đăng nhập" in answer.json()["detail"]["vi"]


def test_viewer_roles_may_watch_others_may_not(server: WallServer) -> None:
    for role in (Role.WALL, Role.ADMIN, Role.STAFF, Role.TECHNICIAN):
        token = SIGNER.issue("someone", role)
        for path in LIVE:
            assert _status(server.url + path, Authorization=f"Bearer {token}") == 200, (role, path)
    for role in (Role.CASHIER, Role.PARENT, Role.EDGE):
        token = SIGNER.issue("someone", role, school="thpt-nguyen-du")
        assert _status(f"{server.url}/api/v1/live", Authorization=f"Bearer {token}") == 403
    expired = SIGNER.issue("noc", Role.WALL, ttl_s=-5)
    forged = TokenSigner("another-secret-" + "x" * 30).issue("noc", Role.WALL)
    for bad in (expired, forged, "not-a-token"):
        assert _status(f"{server.url}/api/v1/live", Authorization=f"Bearer {bad}") == 401


def test_a_school_token_sees_its_school_and_not_the_city(server: WallServer,
                                                          feeder: Feeder) -> None:
    staff = SIGNER.issue("gv-1", Role.STAFF, school="thpt-tran-dai-nghia")
    headers = {"Authorization": f"Bearer {staff}"}
    mine = httpx.get(f"{server.url}/api/v1/live", headers=headers, timeout=TIMEOUT).json()
    assert mine["edges"] and {e["school"] for e in mine["edges"]} == {"thpt-tran-dai-nghia"}
    assert {d["school"] for d in mine["devices"]} == {"thpt-tran-dai-nghia"}
    everyone = httpx.get(f"{server.url}/api/v1/live", timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {WALL}"}).json()
    assert len({e["school"] for e in everyone["edges"]}) == 3
    with httpx.stream("GET", f"{server.url}/api/v1/live/stream", headers=headers,
                      timeout=TIMEOUT) as stream:
        lines = stream.iter_lines()
        data = next(line for line in lines if line.startswith("data: "))
    snapshot = json.loads(data.removeprefix("data: "))
    assert {e["school"] for e in snapshot["edges"]} == {"thpt-tran-dai-nghia"}
    for path in [p for p in LIVE if "/city" in p]:
        assert _status(server.url + path, **headers) == 403, path


def test_a_display_signs_in_once_and_its_cookie_opens_the_streams(server: WallServer) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as browser:
        login = browser.get("/wall/login", params={"token": WALL, "next": "city"})
        assert login.status_code == 303 and login.headers["location"] == "../wall/city"
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/" in cookie
        max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
        assert 11 * 3600 < max_age <= 12 * 3600  # the token's own life
        assert browser.get("/api/v1/live").status_code == 200
        with browser.stream("GET", "/api/v1/live/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        # Anywhere else after sign-in goes to the wall, not off the site.
        other = browser.get("/wall/login", params={"token": WALL, "next": "//evil.example"})
        assert other.headers["location"] == "../wall"
        assert browser.delete("/api/v1/session").status_code == 204
        assert browser.get("/api/v1/live").status_code == 401


def test_sign_in_refuses_tokens_that_cannot_watch(server: WallServer) -> None:
    cashier = SIGNER.issue("thu-ngan", Role.CASHIER, school="thpt-nguyen-du")
    refused = httpx.get(f"{server.url}/wall/login", params={"token": cashier}, timeout=TIMEOUT)
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert httpx.get(f"{server.url}/wall/login", params={"token": "x.y.z"},
                     timeout=TIMEOUT).status_code == 401
    session = httpx.post(f"{server.url}/api/v1/session", timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {cashier}"})
    assert session.status_code == 403
    technician = SIGNER.issue("kt", Role.TECHNICIAN, school="thpt-nguyen-du")
    opened = httpx.post(f"{server.url}/api/v1/session", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {technician}"})
    assert opened.status_code == 204 and SESSION_COOKIE in opened.headers["set-cookie"]


def test_the_wall_says_it_is_not_signed_in_then_shows_data_once_it_is(
        page: Page, server: WallServer, feeder: Feeder) -> None:
    page.goto(f"{server.url}/wall")
    conn = page.get_by_test_id("conn-state")
    expect(conn).to_have_attribute("data-state", "signedOut", timeout=10_000)
    expect(conn).to_contain_text("/wall/login")
    page.goto(f"{server.url}/wall/login?token={WALL}&next=wall")
    expect(page).to_have_url(re.compile(r"/wall$"))
    expect(conn).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.get_by_test_id("value-thpt-le-hong-phong-p10a1-env1-co2_ppm")).to_contain_text(
        "ppm", timeout=10_000)
