"""The instructor password: any Unicode input is compared (as bytes, after normalisation), wrong attempts are limited
per session and per client, and nothing typed is kept in the session."""

import unicodedata

import pytest

from playground import identity
from playground.identity import PER_CLIENT, PER_SESSION, WINDOW_S, Attempts, password_matches
from tests.support.app import assert_clean, open_page

PASSWORDS = ["Passwort", "Grüße aus Köln", "пароль", "密码🙂", "كلمة السر", "e\u0301te", "\u00e9te", "a b", " ",
             "x" * 10_000, "tab\there", "line\nbreak", "\u202ereversed", "'; DROP TABLE runs; --", "%s%s%n",
             "\\x00", "ǅ", "ß", "İstanbul", "👩‍👩‍👧"]
TYPED = PASSWORDS + ["", "\x00", "\ud800", "\udcff", "\ud83d", "a\ud800b", "🙂" * 5000, "passwort", "PASSWORT",
                     "Passwort ", " Passwort", "Pass\u200bwort", "\ufeffPasswort"]


@pytest.mark.parametrize("expected", PASSWORDS, ids=range(len(PASSWORDS)))
def test_every_password_unlocks_only_itself(expected):
    assert password_matches(expected, expected)
    assert password_matches(unicodedata.normalize("NFD", expected), expected)  # é typed as e + ◌́
    for typed in TYPED:
        if unicodedata.normalize("NFC", typed) != unicodedata.normalize("NFC", expected):
            assert not password_matches(typed, expected), (typed, expected)


def test_a_password_from_the_environment_with_undecodable_bytes():
    expected = b"caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 é in a UTF-8 environment
    assert not password_matches("café", expected)  # compared, not raised
    assert not password_matches("\udce9", expected)


def test_attempts_are_limited_per_session_and_per_client():
    attempts = Attempts()
    for i in range(PER_SESSION):
        assert attempts.wait_s("s1", "10.0.0.1", now=i) == 0
        attempts.failed("s1", "10.0.0.1", now=i)
    assert attempts.wait_s("s1", "10.0.0.1", now=PER_SESSION) > 0  # this session must wait
    assert attempts.wait_s("s2", "10.0.0.1", now=PER_SESSION) == 0  # a new tab may try...
    for i in range(PER_CLIENT - PER_SESSION):
        attempts.failed(f"tab{i}", "10.0.0.1", now=PER_SESSION)
    assert attempts.wait_s("s3", "10.0.0.1", now=PER_SESSION) > 0  # ...until the address has tried too often
    assert attempts.wait_s("s3", "10.0.0.2", now=PER_SESSION) == 0  # someone else is not blocked
    assert attempts.wait_s("s1", "10.0.0.1", now=PER_SESSION + WINDOW_S + 1) == 0  # a minute later: again


@pytest.fixture
def page(monkeypatch):
    monkeypatch.setenv(identity.PASSWORD_ENV, "Grüße aus Köln")
    identity.attempts.clear()
    at = open_page("training")
    assert_clean(at)
    return at


def sendable(text: str) -> bool:
    """What a browser can send: its protocol carries UTF-8, so a lone surrogate never arrives (password_matches is
    tested with those above)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


BROWSER_TYPED = [t for t in TYPED if sendable(t)][:24]


@pytest.mark.parametrize("typed", BROWSER_TYPED, ids=range(len(BROWSER_TYPED)))
def test_typing_anything_into_the_password_box(page, typed):
    page.text_input(key="user.password").set_value(typed).run()
    assert_clean(page)
    assert page.session_state["user.password"] == ""  # what was typed is not kept
    unlocked = bool(page.session_state["user.instructor"]) if "user.instructor" in page.session_state else False
    assert unlocked == (unicodedata.normalize("NFC", typed) == "Grüße aus Köln")


def test_the_right_password_unlocks_and_too_many_wrong_ones_wait(page):
    for _ in range(PER_SESSION):
        page.text_input(key="user.password").set_value("wrong").run()
        page.text_input(key="user.password").set_value("").run()
    page.text_input(key="user.password").set_value("Grüße aus Köln").run()
    assert_clean(page)
    assert any("Too many wrong passwords" in e.value for e in page.error)
    assert "user.instructor" not in page.session_state or not page.session_state["user.instructor"]
    identity.attempts.clear()
    page.text_input(key="user.password").set_value("Gru\u0308ße aus Köln").run()  # ü as u + ◌̈
    assert page.session_state["user.instructor"] is True
