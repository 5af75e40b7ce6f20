"""The status rules as pure functions: order, terminal states, the withdraw/change exchange."""

from __future__ import annotations

from datetime import datetime, timedelta

from axis.ledger import LoggedEvent, current_state, refusal_reason, withdrawal_outcome

T = datetime(2025, 3, 3, 9, 0)


def s(code: str, minutes: int = 0) -> LoggedEvent:
    return LoggedEvent("status", code, T + timedelta(minutes=minutes))


def test_the_state_is_the_highest_code_not_the_last_received() -> None:
    assert current_state([s("05", 5), s("03", 3)], "acked") == ("processing", "05")
    assert current_state([], "acked") == ("delivered", "")
    assert current_state([], "undeliverable") == ("undeliverable", "")


def test_a_late_status_timestamped_before_done_is_accepted_but_one_after_is_not() -> None:
    log = [s("06", 10)]
    assert refusal_reason("03", T + timedelta(minutes=5), log) is None
    assert "ended processing" in (refusal_reason("05", T + timedelta(minutes=20), log) or "")


def test_answers_need_an_open_request() -> None:
    assert refusal_reason("15", T, [s("03")]) is not None
    assert refusal_reason("15", T, [s("03"), s("13")]) is None
    assert refusal_reason("16", T, [LoggedEvent("updated")]) is None
    assert withdrawal_outcome([s("13"), s("16")]) == "refused"
