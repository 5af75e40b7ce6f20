"""The pytest plugin inside this repository's strict settings (warnings are errors, markers strict): the
fixtures it registers through `pytest11`, a replay through `axis_replay`, and the agents of a marked module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from axis.replay import Outcome, synthesise
from axis.testing import ExchangeUnderTest, eventually

pytestmark = pytest.mark.axis_agencies("000.00.00.G22", ("000.00.00.H41", "UBND Tỉnh Nghệ An"))


def test_the_plugin_is_registered_through_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("axis")
    assert plugin is not None and plugin.__name__ == "axis.testing.plugin"


@pytest.mark.slow
def test_a_module_exchange_runs_an_agent_for_each_marked_agency(axis_module_exchange: ExchangeUnderTest) -> None:
    assert sorted(axis_module_exchange.organ_ids) == ["000.00.00.G22", "000.00.00.H41"]
    province = axis_module_exchange.agent("000.00.00.H41")
    with httpx.Client(base_url=province.url, headers=province.headers) as api:
        agencies = eventually(lambda: api.get("/agencies").json())
        assert {a["organ_id"]: a["name"] for a in agencies}["000.00.00.H41"] == "UBND Tỉnh Nghệ An"
        assert api.get("/received", headers={"Authorization": "Bearer wrong"}).status_code == 401
    with pytest.raises(KeyError, match="no agent for 000.00.00.H14 in this exchange"):
        axis_module_exchange.agent("000.00.00.H14")


@pytest.mark.slow
def test_axis_replay_plays_a_recording_and_returns_what_the_router_decided(
    axis_replay: Callable[..., Outcome], tmp_path: Path
) -> None:
    recording = tmp_path / "day.jsonl.gz"
    header = synthesise(recording, agencies=8, documents=15, seed=5, sizes="small")
    outcome = axis_replay(recording)
    assert outcome.refused == [] and header.count > 15
    assert outcome.totals["documents"] >= 15
    assert all(r["status_codes"][0] == "01" for d in outcome.documents for r in d["recipients"].values())
