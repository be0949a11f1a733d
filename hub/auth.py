"""API tokens: signed JWTs carrying a role, a school and, for parents, their children.

Every API route declares who may call it with ``Depends(require(Role.ADMIN, Role.STAFF))``;
the route then checks the object itself (``principal.can_see_school``, ``can_see_student``).
The live views (walls' JSON and event streams) take the token from a cookie too, set once by
``/wall/login?token=...`` or ``POST /api/v1/session``: a browser's EventSource sends no headers.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALGORITHM = "HS256"
DEFAULT_TTL_S = 12 * 3600


class Role(StrEnum):
    """Who a caller is."""

    ADMIN = "admin"  # the department: every school
    STAFF = "staff"  # school staff: their school
    CASHIER = "cashier"  # canteen: their school's tills and takings
    PARENT = "parent"  # their own children only
    TECHNICIAN = "technician"  # devices of their school (or all, without a school)
    EDGE = "edge"  # an edge box fetching its school's snapshots
    WALL = "wall"  # a live-wall display: the live views, read only


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of one request."""

    subject: str
    role: Role
    school: str | None = None
    students: frozenset[int] = field(default_factory=frozenset)
    #: When the token runs out (Unix seconds; 0: not known). Not part of who the caller is.
    expires_at: int = field(default=0, compare=False)

    def can_see_school(self, school: str) -> bool:
        """Admins see every school; others only the one in their token."""
        return self.role is Role.ADMIN or (self.school is not None and self.school == school)

    def can_see_student(self, school: str, student_id: int) -> bool:
        """Parents see their own children; staff and admins see their schools' students."""
        if self.role is Role.PARENT:
            return student_id in self.students
        return self.role in (Role.ADMIN, Role.STAFF, Role.CASHIER) and self.can_see_school(school)


class TokenSigner:
    """Issues and verifies the hub's tokens with one secret."""

    def __init__(self, secret: str | None) -> None:
        #: Without a configured secret, tokens are valid only for this process's life.
        self.ephemeral = secret is None
        self._secret = secret or secrets.token_urlsafe(48)

    def issue(self, subject: str, role: Role, *, school: str | None = None,
              students: list[int] | None = None, ttl_s: int = DEFAULT_TTL_S) -> str:
        """A signed token for ``subject`` in ``role``."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
        if school is not None:
            claims["school"] = school
        if students:
            claims["students"] = sorted(students)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; ``jwt.InvalidTokenError`` otherwise."""
        claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "role", "exp"]})
        try:
            role = Role(claims["role"])
            students = frozenset(int(s) for s in claims.get("students", []))
        except (ValueError, TypeError) as error:
            raise jwt.InvalidTokenError(f"bad claims: {error}") from error
        school = claims.get("school")
        if school is not None and not isinstance(school, str):
            raise jwt.InvalidTokenError("bad school claim")
        return Principal(str(claims["sub"]), role, school, students, int(claims["exp"]))


_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail_vi: str, detail_en: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED,
                         detail={"vi": detail_vi, "en": detail_en},
                         headers={"WWW-Authenticate": "Bearer"})


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``; 401 when missing or invalid."""
    if credentials is None:
        raise _unauthorized("Thiếu mã truy cập", "Missing bearer token")
    return verify_token(request, credentials.credentials)


#: The cookie a browser keeps its token in for the live views (EventSource sends no headers).
SESSION_COOKIE = "ss_session"
#: Who may watch the live views (walls, and the console's change stream).
LIVE_VIEWERS = frozenset({Role.ADMIN, Role.STAFF, Role.TECHNICIAN, Role.WALL})


def verify_token(request: Request, token: str) -> Principal:
    """The principal of ``token`` for this app; 401 when it is expired or invalid."""
    signer: TokenSigner = request.app.state.tokens
    try:
        return signer.verify(token)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Mã truy cập đã hết hạn", "Token expired") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("Mã truy cập không hợp lệ", "Invalid token") from None


def live_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """A caller allowed the live views, by bearer token or by the session cookie."""
    token = credentials.credentials if credentials is not None else request.cookies.get(
        SESSION_COOKIE)
    if not token:
        raise _unauthorized("Màn hình chưa đăng nhập: mở /wall/login?token=…",
                            "This display is not signed in: open /wall/login?token=…")
    return ensure_live_viewer(verify_token(request, token))


def ensure_live_viewer(caller: Principal) -> Principal:
    """``caller``, if it may watch the live views; 403 otherwise."""
    if caller.role not in LIVE_VIEWERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail={"vi": "Mã này không xem được màn hình giám sát",
                                    "en": "This token cannot view the live walls"})
    return caller


def require(*roles: Role) -> Any:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail={"vi": "Không có quyền", "en": "Forbidden"})
        return caller

    return Depends(check)


def forbid_unless(allowed: bool) -> None:
    """403 unless ``allowed``: for checks on the object a route touches."""
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail={"vi": "Không có quyền", "en": "Forbidden"})
