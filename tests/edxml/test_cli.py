"""`axis edxml validate|show|new` through click's runner: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from axis.cli import main
from edxml import DocumentPackage, parse_package, serialize


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["edxml", *args])
    return result.exit_code, result.output


def test_validate_lenient_names_each_sample_and_fails_for_edoc(samples: Path) -> None:
    files = sorted(str(p) for p in samples.glob("*.edxml"))
    code, out = run("validate", "--profile", "lenient", *files)
    assert code == 1
    assert out.count(": valid (lenient)") == 14
    assert f"{samples / 'edoc.edxml'}: INVALID (lenient)" in out
    assert f"{samples / 'edoc.edxml'}:126: error: Attachment cid:36b8a92e" in out


def test_validate_strict_rejects_junk_with_file_and_line(samples: Path) -> None:
    code, out = run("validate", str(samples / "edoc_new.edxml"))
    assert code == 1
    assert f"{samples / 'edoc_new.edxml'}:1: error: 4 bytes before the XML declaration: b'1212'" in out


def test_validate_json_and_exit_zero_when_all_valid(samples: Path) -> None:
    code, out = run("validate", "--profile", "lenient", "--json", str(samples / "status.edxml"))
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1]) == {
        "file": str(samples / "status.edxml"), "ok": True, "errors": [], "warnings": [],
    }  # fmt: skip


def test_validate_refuses_an_oversized_file_without_parsing(samples: Path) -> None:
    code, out = run("validate", "--max-bytes", "100", str(samples / "status.edxml"))
    assert code == 1 and "over the limit of 100" in out


def test_show_json_gives_the_fields(samples: Path) -> None:
    code, out = run("show", "--json", str(samples / "status_rejection_02.edxml"))
    assert code == 0
    data = json.loads(out)
    assert (data["kind"], data["status_code"], data["sender"]) == ("status", "02", "000.00.00.H41")
    assert data["timestamp"] == "2015/09/20 11:08:36"


def test_show_extract_writes_decoded_attachments_inside_the_directory(tmp_path: Path, document: DocumentPackage) -> None:
    from edxml import Attachment

    evil = Attachment("cid:1", "../../escape.txt", "text/plain", data=b"hello")
    package = tmp_path / "p.edxml"
    package.write_bytes(serialize(DocumentPackage(document.header, document.trace, [evil])))
    code, out = run("show", str(package), "--extract", str(tmp_path / "out"))
    assert code == 0, out
    assert (tmp_path / "out" / "escape.txt").read_bytes() == b"hello"
    assert not (tmp_path.parent / "escape.txt").exists()


def test_show_of_a_broken_file_exits_non_zero_with_the_location(samples: Path) -> None:
    code, out = run("show", "--profile", "strict", str(samples / "edoc.edxml"))
    assert code == 1 and "edoc.edxml:116:" in out


def test_new_from_options_writes_a_strict_valid_package(tmp_path: Path) -> None:
    attachment = tmp_path / "to-trinh.txt"
    attachment.write_text("nội dung")
    out = tmp_path / "new.edxml"
    code, output = run(
        "new", "--from", "000.00.00.G22", "--from-name", "VPCP", "--to", "000.00.00.H41=UBND Nghệ An",
        "--code-number", "12", "--code-notation", "VPCP-TTĐT", "--subject", "Thử", "--date", "2024/05/06",
        "--attach", str(attachment), "-o", str(out),
    )  # fmt: skip
    assert code == 0, output
    pkg = parse_package(out.read_bytes(), profile="strict")
    assert isinstance(pkg, DocumentPackage)
    assert pkg.document_id == "000.00.00.G22,2024/05/06,12/VPCP-TTĐT"
    assert pkg.attachments[0].data == "nội dung".encode()


def test_new_from_json_with_an_option_override(tmp_path: Path) -> None:
    spec = {
        "sender": {"organ_id": "000.00.00.G22", "organ_name": "VPCP"},
        "recipients": [{"organ_id": "000.00.00.H41", "organ_name": "UBND"}],
        "code": {"code_number": "1", "code_notation": "A"},
        "subject": "from json",
        "promulgation_date": "2024/01/02",
        "other": {"priority": 2, "appendixes": ["PL1"]},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    code, output = run("new", "--from-json", str(tmp_path / "spec.json"), "--subject", "override")
    assert code == 0, output
    pkg = parse_package(output.encode(), profile="strict")
    assert isinstance(pkg, DocumentPackage)
    assert (pkg.header.subject, pkg.header.other.priority, pkg.header.other.appendixes) == ("override", 2, ("PL1",))


def test_new_refuses_a_package_that_would_not_pass_strict() -> None:
    code, output = run(
        "new", "--from", "not an organ", "--from-name", "X", "--to", "000.00.00.H41=Y",
        "--code-number", "1", "--code-notation", "A", "--subject", "s",
    )  # fmt: skip
    assert code == 1
    assert "OrganId 'not an organ' is not of the form" in output
