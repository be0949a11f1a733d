"""API tokens: signature, expiry, roles and what each role may see."""

from __future__ import annotations

import time

import jwt
import pytest

from hub.auth import Principal, Role, TokenSigner


def test_a_token_round_trips_with_its_claims() -> None:
    signer = TokenSigner("k" * 40)
    caller = signer.verify(signer.issue("thu-ngan-1", Role.CASHIER, school="thpt-le-quy-don"))
    assert caller == Principal("thu-ngan-1", Role.CASHIER, "thpt-le-quy-don", frozenset())
    assert 11 * 3600 < caller.expires_at - time.time() <= 12 * 3600
    assert caller.can_see_school("thpt-le-quy-don") and not caller.can_see_school("thcs-tan-binh")


def test_forged_expired_and_malformed_tokens_are_refused() -> None:
    signer = TokenSigner("k" * 40)
    forged = TokenSigner("x" * 40).issue("admin", Role.ADMIN)
    with pytest.raises(jwt.InvalidTokenError):
        signer.verify(forged)
    with pytest.raises(jwt.ExpiredSignatureError):
        signer.verify(signer.issue("a", Role.ADMIN, ttl_s=-10))
    bad_role = jwt.encode({"sub": "a", "role": "king", "exp": 2**40}, "k" * 40, algorithm="HS256")
    with pytest.raises(jwt.InvalidTokenError):
        signer.verify(bad_role)
    none_alg = jwt.encode({"sub": "a", "role": "admin", "exp": 2**40}, None, algorithm="none")
    with pytest.raises(jwt.InvalidTokenError):
        signer.verify(none_alg)


def test_parents_see_only_their_children_and_staff_only_their_school() -> None:
    parent = Principal("me", Role.PARENT, None, frozenset({7}))
    assert parent.can_see_student("any", 7) and not parent.can_see_student("any", 8)
    staff = Principal("gv", Role.STAFF, "thpt-nguyen-du")
    assert staff.can_see_student("thpt-nguyen-du", 8)
    assert not staff.can_see_student("thpt-nguyen-hien", 8)
    technician = Principal("kt", Role.TECHNICIAN, "thpt-nguyen-du")
    assert not technician.can_see_student("thpt-nguyen-du", 8)
    assert Principal("so", Role.ADMIN).can_see_school("thcs-tan-binh")


def test_without_a_secret_tokens_live_with_the_process() -> None:
    first, second = TokenSigner(None), TokenSigner(None)
    assert first.ephemeral
    with pytest.raises(jwt.InvalidTokenError):
        second.verify(first.issue("a", Role.ADMIN))
