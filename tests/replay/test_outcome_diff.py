"""Outcomes: stable JSON, and `diff` naming each document, recipient or refusal decided differently."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from axis.cli import main
from axis.replay import Outcome, OutcomeInvalid, diff_outcomes

DOC = "000.00.00.G22,2026/12/01,12/VPCP-TTĐT"
BASE = Outcome(
    documents=[
        {
            "sender": "000.00.00.G22",
            "document_id": DOC,
            "business_type": "new",
            "concerns": [],
            "refusals": [],
            "recipients": {
                "000.00.00.H41": {
                    "state": "done",
                    "status_codes": ["01", "03", "04", "06"],
                    "changes": [],
                    "refusals": [],
                },
                "000.00.00.H14": {
                    "state": "refused",
                    "status_codes": ["01", "02"],
                    "changes": [],
                    "refusals": [{"status_code": "03", "actor": "000.00.00.H14", "reason": "status-not-allowed: 02"}],
                },
            },
        }
    ],
    refused=[
        {"message_id": "m1", "kind": "edoc", "sender": "000.00.00.X99", "document_id": "", "reason": "unknown-sender"}
    ],
)


def test_an_outcome_reads_back_equal_from_its_stable_json() -> None:
    text = BASE.to_json()
    assert Outcome.from_json(text) == BASE and Outcome.from_json(text).to_json() == text
    assert BASE.totals == {"documents": 1, "recipients": 2, "statuses": 6, "refused": 1}
    assert BASE.state(DOC, "000.00.00.H14") == "refused"
    with pytest.raises(KeyError, match="000.00.00.H99 is not a recipient"):
        BASE.status_codes(DOC, "000.00.00.H99")


def test_diff_names_what_two_routers_decided_differently() -> None:
    other = copy.deepcopy(BASE)
    other.documents[0]["recipients"]["000.00.00.H41"].update(state="assigned", status_codes=["01", "03", "04"])
    other.documents.append({**copy.deepcopy(BASE.documents[0]), "document_id": "x"})
    other.refused.clear()
    assert diff_outcomes(BASE, other, names=("old", "new")) == [
        f"{DOC} (from 000.00.00.G22) -> 000.00.00.H41: state 'done' in old, 'assigned' in new",
        f"{DOC} (from 000.00.00.G22) -> 000.00.00.H41: status_codes 01 03 04 06 in old, 01 03 04 in new",
        "x (from 000.00.00.G22): only in new",
        "refused edoc m1 from 000.00.00.X99 only in old: unknown-sender",
    ]
    assert diff_outcomes(BASE, copy.deepcopy(BASE)) == []


def test_the_diff_command_exits_0_when_equal_1_when_not_and_2_when_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(BASE.to_json())
    (tmp_path / "b.json").write_text(Outcome(BASE.documents, []).to_json())
    (tmp_path / "c.json").write_text('{"format": "other"}')
    runner = CliRunner()
    same = runner.invoke(main, ["replay", "diff", str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    differ = runner.invoke(main, ["replay", "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    bad = runner.invoke(main, ["replay", "diff", str(tmp_path / "a.json"), str(tmp_path / "c.json")])
    assert same.exit_code == 0 and "the outcomes are equal" in same.output
    assert differ.exit_code == 1 and "refused edoc m1 from 000.00.00.X99 only in" in differ.output
    assert bad.exit_code == 2 and "not an axis outcome" in bad.output
    with pytest.raises(OutcomeInvalid, match="No such file"):
        Outcome.read(tmp_path / "missing.json")
