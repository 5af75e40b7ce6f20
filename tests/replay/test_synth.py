"""The synthesiser: the same seed gives the same bytes; agencies, sizes, statuses and times look national."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import edxml
from axis.cli import main
from axis.replay import Recording, ReplayError, SizeProfile, synthesise
from axis.replay._population import population

ORGAN_ID = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[GH]\d{2}$")
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def test_two_runs_with_the_same_seed_write_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        result = runner.invoke(
            main,
            [
                "replay",
                "synth",
                "--agencies",
                "12",
                "--documents",
                "60",
                "--seed",
                seed,
                "--sizes",
                "small",
                "-o",
                str(tmp_path / f"{name}.jsonl.gz"),
            ],
        )
        assert result.exit_code == 0, result.output
    a, b, c = ((tmp_path / f"{n}.jsonl.gz").read_bytes() for n in "abc")
    assert a == b
    assert a != c


def test_agencies_are_ministries_provinces_districts_and_communes_with_qd20_organ_ids() -> None:
    agencies = population(40, random.Random(1))
    assert all(ORGAN_ID.match(a.organ_id) for a in agencies)
    levels = Counter(a.level for a in agencies)
    assert levels["ministry"] and levels["province"] and levels["district"] and levels["commune"]
    by_id = {a.organ_id: a for a in agencies}
    for a in agencies:
        if a.level == "district":  # 000.dd.pp.Hpp under the province 000.00.00.Hpp
            assert a.organ_id.startswith("000.") and by_id[a.parent].organ_id == f"000.00.00.{a.organ_id[-3:]}"
        if a.level == "commune":  # ccc.dd.pp.Hpp under the district 000.dd.pp.Hpp
            assert a.organ_id[:3] != "000" and a.parent == "000" + a.organ_id[3:]
    assert len(by_id) == 40


def test_the_default_sizes_are_mostly_10_to_500_kb_with_a_tail_up_to_20_mb() -> None:
    profile, rng = SizeProfile.parse("national"), random.Random(3)
    sizes = [profile.document_size(rng) for _ in range(5000)]
    common = sum(10 * 1024 <= s <= 500 * 1024 for s in sizes) / len(sizes)
    assert 0.85 < common < 0.95
    assert max(sizes) <= 20 * 1024 * 1024 and sum(s > 2 * 1024 * 1024 for s in sizes) > 100
    counts = Counter(profile.attachment_count(rng) for _ in range(5000))
    assert set(counts) == {1, 2, 3, 4, 5} and counts[1] > counts[2] > counts[3]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("10KB-1QB:1", "not a size"),
        ("10KB-500KB", "not VALUE:WEIGHT"),
        ("500KB-10KB:1", "from a positive size up"),
        ("1KB-2KB:1;attachments=0:1", "attachment count"),
        ("1KB-2KB:0", "every weight is zero"),
    ],
)
def test_a_wrong_size_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        SizeProfile.parse(spec)


def test_statuses_follow_national_sequences_and_documents_arrive_in_working_hours(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    header = synthesise(path, agencies=30, documents=400, seed=11, sizes="small", days=2)
    records = list(Recording.open(path).records())
    assert header.count == len(records) and header.source["seed"] == 11
    assert [r.timestamp_ms for r in records] == sorted(r.timestamp_ms for r in records)
    codes: Counter[str] = Counter()
    business: Counter[int] = Counter()
    recipients = []
    for record in records:
        kind = record.header("package-kind")
        if kind == "ack":
            continue
        package = edxml.parse_package(record.value or b"", profile="strict")
        assert package.signature is None  # synthetic packages are signed on play (--resign)
        if isinstance(package, edxml.StatusPackage):
            codes[package.status_code.value] += 1
            continue
        business[int(package.trace.business.doc_type) if package.trace.business else 0] += 1
        recipients.append(len(package.recipients))
        moment = datetime.fromtimestamp(record.timestamp_ms / 1000, TZ)
        if not package.trace.business or not package.trace.business.doc_type:
            assert moment.weekday() < 5 and 8 <= moment.hour < 17, moment
    assert set(codes) == {"01", "02", "03", "04", "05", "06", "13", "15", "16"}
    assert codes["01"] == sum(recipients) and codes["02"] < codes["03"]
    assert business[0] >= 400 and business[1] and business[2] and business[3]
    assert max(recipients) > 2 and sum(recipients) / len(recipients) > 1.5  # several per document
