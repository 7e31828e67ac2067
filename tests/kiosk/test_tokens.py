"""Signed QR tokens: round trip, every refusal, and a fuzzed verifier that only raises TokenError."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.i18n import gettext
from kiosk.privacy import person_key
from kiosk.tokens import (MAX_TEXT, Token, TokenError, TokenExpired, TokenForged,
                          TokenMalformed, TokenNotYetValid, issue_token, token_key, verify_token)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
RESIDENT = person_key(KEY, "11010519491231002X")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_resident():
    text = issue_token(KEY, "resident", RESIDENT, timedelta(days=30), "sh-pd-001", now=NOW)
    assert text.startswith("YZ1.") and text.isascii() and len(text) < 200
    tok = verify_token(KEY, text, now=NOW + timedelta(days=29))
    assert tok == Token(kind="resident", subject=RESIDENT, issued_at=NOW,
                        expires_at=NOW + timedelta(days=30), station="sh-pd-001")


def test_round_trip_volunteer_with_epoch_seconds_and_whitespace():
    t0 = NOW.timestamp()
    text = issue_token(KEY, "volunteer", "V-000123", 3600, "st_9", now=t0)
    tok = verify_token(KEY, f"  {text}\n", now=t0 + 10)
    assert (tok.kind, tok.subject, tok.station) == ("volunteer", "V-000123", "st_9")


def test_token_never_carries_the_id_number():
    text = issue_token(KEY, "resident", RESIDENT, 60, "s1", now=NOW)
    payload = base64.urlsafe_b64decode(text.split(".")[1] + "==")
    assert b"11010519491231002X" not in payload
    with pytest.raises(ValueError):
        issue_token(KEY, "volunteer", "11010519491231002X", 60, "s1", now=NOW)


def test_sub_key_differs_from_district_key_and_person_key_use():
    assert token_key(KEY) != KEY
    text = issue_token(KEY, "volunteer", "V1", 60, "s1", now=NOW)
    signed, tag = text.rsplit(".", 1)
    # signing with the district key directly must not give the same tag
    assert _b64(hmac.new(KEY, signed.encode(), hashlib.sha256).digest()[:16]) != tag


def test_wrong_key_is_forged():
    text = issue_token(KEY, "volunteer", "V1", 60, "s1", now=NOW)
    with pytest.raises(TokenForged) as exc:
        verify_token(OTHER_KEY, text, now=NOW)
    assert exc.value.user_key == "token_forged"


def test_altered_payload_is_forged():
    text = issue_token(KEY, "volunteer", "V1", 3600, "s1", now=NOW)
    ver, body, tag = text.split(".")
    doc = json.loads(base64.urlsafe_b64decode(body + "=="))
    doc["e"] += 86400 * 365                      # stretch the expiry
    altered = f"{ver}.{_b64(json.dumps(doc, separators=(',', ':')).encode())}.{tag}"
    with pytest.raises(TokenForged):
        verify_token(KEY, altered, now=NOW)


@pytest.mark.parametrize("pos", range(4, 60, 7))
def test_every_single_character_change_is_refused(pos):
    text = issue_token(KEY, "volunteer", "V1", 3600, "s1", now=NOW)
    for repl in "AQz_-9.":
        if text[pos] == repl:
            continue
        changed = text[:pos] + repl + text[pos + 1:]
        with pytest.raises((TokenForged, TokenMalformed)):
            verify_token(KEY, changed, now=NOW)


def test_tag_padding_bits_cannot_be_flipped():
    text = issue_token(KEY, "volunteer", "V1", 3600, "s1", now=NOW)
    last = text[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]   # differs only in the unused low bits
    with pytest.raises((TokenMalformed, TokenForged)):
        verify_token(KEY, text[:-1] + twin, now=NOW)


def test_forged_with_guessed_tag():
    body = _b64(json.dumps({"e": 2_000_000_000, "i": 1, "k": "v", "s": "V1", "t": "s1"},
                           separators=(",", ":")).encode())
    with pytest.raises(TokenForged):
        verify_token(KEY, f"YZ1.{body}.{_b64(bytes(16))}", now=NOW)


def test_expired_and_boundary():
    text = issue_token(KEY, "resident", RESIDENT, 60, "s1", now=NOW)
    assert verify_token(KEY, text, now=NOW + timedelta(seconds=59)).subject == RESIDENT
    with pytest.raises(TokenExpired) as exc:
        verify_token(KEY, text, now=NOW + timedelta(seconds=60))
    assert exc.value.user_key == "token_expired"


def test_issued_in_the_future_is_refused():
    text = issue_token(KEY, "resident", RESIDENT, 86400, "s1", now=NOW + timedelta(hours=1))
    with pytest.raises(TokenNotYetValid):
        verify_token(KEY, text, now=NOW)
    assert verify_token(KEY, text, now=NOW + timedelta(minutes=56)).kind == "resident"


@pytest.mark.parametrize("text", [
    "", "hello", "https://example.com/?q=1", "YZ1", "YZ1..", "YZ2.abc.def", "YZ1.a.b.c",
    "YZ1.!!!!.AAAAAAAAAAAAAAAAAAAAAA", "YZ1.e30.AAAA", "YZ1.e30.A", "订单 0042",
    "YZ1." + "A" * (MAX_TEXT) + ".AAAAAAAAAAAAAAAAAAAAAA",
])
def test_malformed(text):
    with pytest.raises(TokenMalformed) as exc:
        verify_token(KEY, text, now=NOW)
    assert exc.value.user_key == "token_malformed"


def test_validly_signed_bad_payload_is_malformed():
    """A key holder signing garbage still gets TokenMalformed, not a crash."""
    for doc in ({"k": "x"}, [1, 2], {"e": "soon", "i": 1, "k": "v", "s": "V1", "t": "s1"},
                {"e": 10**20, "i": 1, "k": "v", "s": "V1", "t": "s1"},
                {"e": 2_000_000_000, "i": 1, "k": "r", "s": "not-a-key", "t": "s1"}):
        signed = "YZ1." + _b64(json.dumps(doc).encode())
        tag = hmac.new(token_key(KEY), signed.encode(), hashlib.sha256).digest()[:16]
        with pytest.raises(TokenMalformed):
            verify_token(KEY, f"{signed}.{_b64(tag)}", now=NOW)


@pytest.mark.parametrize("kwargs", [
    {"kind": "admin"}, {"subject": "ABC"}, {"kind": "volunteer", "subject": "有空格 x"},
    {"ttl": 0}, {"ttl": 400 * 86400}, {"station": ""}, {"station": "a/b"},
])
def test_issue_rejects_bad_arguments(kwargs):
    args = {"kind": "resident", "subject": RESIDENT, "ttl": 60, "station": "s1"} | kwargs
    with pytest.raises(ValueError):
        issue_token(KEY, now=NOW, **args)


def test_every_user_key_has_english_and_chinese():
    for cls in (TokenError, TokenMalformed, TokenForged, TokenExpired, TokenNotYetValid):
        msg = cls.user_message
        assert msg.isascii()
        assert gettext(msg, "zh_CN") != msg, f"no Chinese for {msg!r}"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700))
def test_fuzz_verify_only_raises_token_error(text):
    try:
        verify_token(KEY, text, now=NOW)
    except TokenError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.builds(lambda parts: ".".join(parts),
                 st.lists(st.text(alphabet="YZ1AQw_-=e30", max_size=40), min_size=1, max_size=4)))
def test_fuzz_verify_near_format(text):
    with pytest.raises(TokenError):
        verify_token(KEY, text, now=NOW)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_signed_payload_bytes(raw):
    """Even with a valid signature, arbitrary payload bytes only produce TokenError or a Token."""
    signed = "YZ1." + _b64(raw)
    tag = hmac.new(token_key(KEY), signed.encode(), hashlib.sha256).digest()[:16]
    try:
        assert isinstance(verify_token(KEY, f"{signed}.{_b64(tag)}", now=NOW), Token)
    except TokenError:
        pass


def test_peek_kind_does_not_verify():
    from kiosk.tokens import peek_kind
    text = issue_token(KEY, "resident", RESIDENT, 60, "s1", now=NOW)
    assert peek_kind(text) == "resident"
    assert peek_kind(issue_token(OTHER_KEY, "volunteer", "V1", 60, "s1", now=NOW)) == "volunteer"
    for junk in ("", "hello", "YZ1.!!.x", "YZ1.e30.AAAA", "YZ1." + "A" * 600 + ".A", None):
        assert peek_kind(junk) is None
