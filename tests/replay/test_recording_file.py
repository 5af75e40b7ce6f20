"""The recording file: exact bytes back, a header with what is inside, and a bad file refused with a reason."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from axis.replay import RecordedRecord, Recording, RecordingInvalid, RecordingWriter

RECORDS = [
    RecordedRecord(
        "edx.outbound",
        3,
        17,
        1_700_000_000_000,
        "000.00.00.G22,2026/12/01,12/VPCP-TTĐT".encode(),
        "<?xml version='1.0' encoding='UTF-8'?>\n<edXML>Công văn\r\n</edXML>".encode(),
        (("message-id", b"9f"), ("package-kind", b"edoc")),
    ),
    RecordedRecord("edx.inbox.000.00.00.H41", 0, 0, 1_700_000_000_500, None, None, ()),
    RecordedRecord(
        "edx.outbound",
        1,
        4,
        1_699_999_999_000,
        b"\xff\xfe key",
        b"\x00\x01\x80 not text",
        (("bin", b"\x80\x81"), ("bin", b"")),
    ),
]


def _write(path: Path, records: list[RecordedRecord] = RECORDS) -> None:
    with RecordingWriter(path, source={"bootstrap": "127.0.0.1:9092"}, topics=["edx.outbound"]) as writer:
        for record in records:
            writer.add(record)


def test_every_record_comes_back_byte_for_byte_with_a_header_that_describes_them(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    _write(path)
    recording = Recording.open(path)
    assert list(recording.records()) == RECORDS
    header = recording.header
    assert (header.count, header.first_timestamp_ms, header.last_timestamp_ms) == (
        3,
        1_699_999_999_000,
        1_700_000_000_500,
    )
    assert header.source == {"bootstrap": "127.0.0.1:9092"} and header.topics == ("edx.outbound",)
    assert not (tmp_path / "r.jsonl.gz.partial").exists()


def test_the_file_is_gzip_json_lines_that_ordinary_tools_read(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    _write(path)
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    assert json.loads(lines[0])["format"] == "axis-replay" and json.loads(lines[0])["count"] == 3
    assert json.loads(lines[1])["value"].startswith("<?xml")  # EDXML stays readable text
    assert json.loads(lines[3])["value"] == {"b64": "AAGAIG5vdCB0ZXh0"}  # other bytes as base64
    assert set(json.loads(lines[-1])["end"]) == {"count", "header_sha256", "records_sha256"}


def test_a_failure_while_writing_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    with pytest.raises(RuntimeError), RecordingWriter(path, source={}, topics=["t"]) as writer:
        writer.add(RECORDS[0])
        raise RuntimeError("recording interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("keep", [0.5, 0.9, -1])
def test_a_truncated_recording_is_refused(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "r.jsonl.gz"
    _write(path, RECORDS * 200)
    data = path.read_bytes()
    end_member = data.rindex(b"\x1f\x8b\x08")  # the last gzip member holds the end line
    path.write_bytes(data[:end_member] if keep == -1 else data[: int(len(data) * keep)])
    with pytest.raises(RecordingInvalid, match="truncated"):
        Recording.open(path)


Edit = Callable[[list[bytes]], list[bytes]]


def _rewrite(path: Path, edit: Edit) -> None:
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    path.write_bytes(gzip.compress(b"".join(edit(lines))))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [lines[0], lines[1].replace(b"17", b"18"), *lines[2:]], "records' SHA-256"),
        (lambda lines: [lines[0], *lines[2:]], "altered: 2 records"),
        (lambda lines: [lines[0].replace(b'"count":3', b'"count":4'), *lines[1:]], "header's SHA-256"),
        (lambda lines: [lines[0], b"{not json\n", *lines[2:]], "not JSON"),
        (lambda lines: [b'{"format":"something-else"}\n', *lines[1:]], "not an axis recording"),
    ],
)
def test_an_altered_recording_is_refused_with_what_is_wrong(tmp_path: Path, edit: Edit, message: str) -> None:
    path = tmp_path / "r.jsonl.gz"
    _write(path)
    _rewrite(path, edit)
    with pytest.raises(RecordingInvalid, match=message):
        Recording.open(path)


def test_a_flipped_byte_in_the_compressed_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    _write(path, RECORDS * 50)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingInvalid, match=str(path)):
        Recording.open(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RecordingInvalid, match="no such file"):
        Recording.open(tmp_path / "nothing.jsonl.gz")
