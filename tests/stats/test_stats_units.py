"""The pure parts of the stats app: the quantile sketch against exact percentiles, the windows, what a fact counts,
and the package's public surface."""

from __future__ import annotations

import inspect
import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import axis.stats as stats
from axis.stats import ALPHA, FLOOR_SECONDS, Figures, Sketch, tallies_of, window_named
from axis.wire import LedgerFact

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
AT = datetime(2026, 12, 1, 1, 0, 30, tzinfo=timezone.utc)  # 08:00:30 in Hanoi
durations = st.lists(st.floats(min_value=0, max_value=30 * 86400, allow_nan=False), min_size=1, max_size=300)


def percentile_disc(samples: list[float], q: float) -> float:
    """PostgreSQL's percentile_disc: the first sample whose position reaches the fraction q."""
    return sorted(samples)[max(1, math.ceil(q * len(samples))) - 1]


@given(durations, st.sampled_from([0.5, 0.9, 0.99, 1.0]))
def test_the_sketch_answers_percentile_disc_within_its_relative_error(samples: list[float], q: float) -> None:
    sketch = Sketch()
    for seconds in samples:
        sketch.add(seconds)
    exact = percentile_disc(samples, q)
    answer = sketch.quantile(q)
    assert answer is not None and sketch.count == len(samples)
    assert abs(answer - exact) <= ALPHA * exact * (1 + 1e-9) + FLOOR_SECONDS


@given(durations, durations)
def test_sketches_merge_and_survive_their_json_form(first: list[float], second: list[float]) -> None:
    a, b, both = Sketch(), Sketch(), Sketch()
    for seconds in first:
        a.add(seconds)
        both.add(seconds)
    for seconds in second:
        b.add(seconds)
        both.add(seconds)
    a.merge(Sketch.from_json(b.to_json()))
    assert (a.buckets, a.floor, a.count) == (both.buckets, both.floor, both.count)


def test_an_empty_sketch_has_no_quantile_and_a_bad_fraction_is_refused() -> None:
    assert Sketch().quantile(0.5) is None
    with pytest.raises(ValueError, match="quantile"):
        Sketch().quantile(0)


def test_the_day_follows_hanoi_midnight_while_minutes_and_hours_are_the_clocks() -> None:
    day = window_named("day")
    assert day.bounds(datetime(2026, 12, 1, 16, 59, 59, tzinfo=timezone.utc), HANOI) == (
        datetime(2026, 12, 1, tzinfo=HANOI), datetime(2026, 12, 2, tzinfo=HANOI))
    midnight = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)
    assert day.bounds(midnight, HANOI)[0] == datetime(2026, 12, 2, tzinfo=HANOI)
    assert window_named("hour").bounds(AT, HANOI) == (datetime(2026, 12, 1, 8, tzinfo=HANOI),
                                                      datetime(2026, 12, 1, 9, tzinfo=HANOI))
    assert window_named("minute").bounds(AT, HANOI)[0] == datetime(2026, 12, 1, 8, 0, tzinfo=HANOI)
    with pytest.raises(ValueError, match="minute, hour, day"):
        window_named("week")


def test_each_counted_fact_names_its_agency_and_measure() -> None:
    accepted = AT - timedelta(seconds=90)

    def fact(kind: str, **kw: str) -> LedgerFact:
        return LedgerFact("e7", AT, kind, document_id="D1", sender="S", recipient=kw.pop("recipient", ""),
                          accepted_at=accepted, **kw)  # type: ignore[arg-type]

    def counted(f: LedgerFact) -> list[tuple[str, str, float]]:
        return [(t.agency, t.measure, t.seconds) for t in tallies_of(f)]

    assert counted(fact("received")) == [("S", "sent", 0.0)]
    assert counted(fact("delivered", recipient="R")) == [("R", "received", 0.0), ("S", "deliveries", 0.0)]
    refused = LedgerFact("e8", AT, "refused", document_id="D2", sender="S", actor="S", message_id="m1")
    status_refused = LedgerFact("e9", AT, "status-refused", document_id="D1", sender="S", actor="R", message_id="m2")
    assert counted(refused) == [("S", "refusals", 0.0)]
    assert counted(status_refused) == [("R", "refusals", 0.0)]  # who sent the refused status, not the document
    as_tracked = LedgerFact("rm2", AT, "refused", document_id="D1", sender="R", actor="R", message_id="m2")
    assert tallies_of(as_tracked)[0].once == tallies_of(status_refused)[0].once  # one refusal, told twice
    assert counted(fact("status", recipient="R", status_code="03")) == [("R", "to_03", 90.0)]
    assert counted(fact("status", recipient="R", status_code="04")) == []
    assert counted(fact("published", recipient="R")) == []
    first = tallies_of(fact("status", recipient="R", status_code="01"))
    again = tallies_of(LedgerFact("e9", AT, "status", document_id="D1", sender="S", recipient="R",
                                  status_code="01", accepted_at=accepted))
    assert first[0].once == again[0].once  # only the first 01 of a recipient counts, whatever the fact id


def test_figures_count_and_refuse_unknown_measures() -> None:
    figures = Figures()
    figures.add("sent")
    figures.add("to_01", 12.0)
    assert Figures.from_json(figures.to_json()).report()["time_to_01_seconds"]["count"] == 1
    with pytest.raises(ValueError, match="unknown measure"):
        figures.add("overdue")  # type: ignore[arg-type]


def test_the_public_surface_is_exactly_all_sorted() -> None:
    assert stats.__all__ == sorted(stats.__all__)
    public = {name for name, value in vars(stats).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(stats.__all__)


@pytest.mark.parametrize("protocol, mechanism", [("SASL_SSL", "SCRAM-SHA-512"), ("SASL_PLAINTEXT", "PLAIN"),
                                                  ("SSL", None), ("PLAINTEXT", None)])
def test_the_faust_app_connects_with_the_same_security_as_every_other_client(protocol: str, mechanism: str | None) -> None:
    """faust builds its own aiokafka clients: what it passes them must equal `KafkaSecurity.client_options()`."""
    import ssl

    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from axis.settings import Secret
    from axis.stats._engine import _faust_credentials
    from axis.transport import KafkaSecurity

    context = ssl.create_default_context() if protocol.endswith("SSL") else None
    security = KafkaSecurity(protocol, context, mechanism, "axis-stats" if mechanism else None,
                             Secret("s3cret") if mechanism else None)
    credentials = _faust_credentials(security)
    given_to_faust = credentials_to_aiokafka_auth(credentials) if credentials else {"security_protocol": "PLAINTEXT"}
    expected = security.client_options()
    assert {k: v for k, v in given_to_faust.items() if v is not None} == expected
