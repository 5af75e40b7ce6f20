"""The forms real document systems write, read by the lenient profile with a warning that says how; the
strict profile takes only the standard's own forms; an organ id the directory holds is valid in any form."""

from __future__ import annotations

from datetime import date, datetime

import pytest

import edxml
from edxml._moments import read_moment

DATES = [
    ("2020/10/30", date(2020, 10, 30), None),
    ("30/10/2020", date(2020, 10, 30), "dd/MM/yyyy"),
    ("05/06/2020", date(2020, 6, 5), "dd/MM/yyyy (day first assumed)"),
    ("10/30/2020", date(2020, 10, 30), "MM/dd/yyyy"),
    ("30-10-2020", date(2020, 10, 30), "dd-MM-yyyy"),
    ("30.10.2020", date(2020, 10, 30), "dd.MM.yyyy"),
    ("2020-10-30", date(2020, 10, 30), "yyyy-MM-dd"),
    ("2020/1/5", date(2020, 1, 5), "yyyy/MM/dd"),
    ("20201030", date(2020, 10, 30), "yyyyMMdd"),
    ("2020-10-30T23:30:00Z", date(2020, 10, 31), "the time of day is dropped"),
]
TIMES = [
    ("2020/10/30 14:15:00", datetime(2020, 10, 30, 14, 15), None),
    ("30/10/2020 14:15:00", datetime(2020, 10, 30, 14, 15), "dd/MM/yyyy HH:mm:ss"),
    ("30/10/2020 2:15:00 CH", datetime(2020, 10, 30, 14, 15), "CH read as afternoon"),
    ("10/30/2020 2:15:00 PM", datetime(2020, 10, 30, 14, 15), "PM read as afternoon"),
    ("30/10/2020 12:05:00 SA", datetime(2020, 10, 30, 0, 5), "SA read as morning"),
    ("2020-10-30T07:15:00Z", datetime(2020, 10, 30, 14, 15), "offset Z converted"),
    ("2020-10-30T14:15:00+07:00", datetime(2020, 10, 30, 14, 15), "offset +07:00 converted"),
    ("2020-10-30T08:15:00.123+01:00", datetime(2020, 10, 30, 14, 15), "fractions of a second dropped"),
    ("2020/10/30 14:15", datetime(2020, 10, 30, 14, 15), "HH:mm"),
    ("2020/10/30", datetime(2020, 10, 30), "00:00:00 assumed"),
    ("1604042100000", datetime(2020, 10, 30, 14, 15), "Unix epoch milliseconds"),
    ("1604042100", datetime(2020, 10, 30, 14, 15), "Unix epoch seconds"),
]


@pytest.mark.parametrize("text, value, how", DATES)
def test_dates_in_the_forms_systems_write(text: str, value: date, how: str | None) -> None:
    read, said = read_moment(text, with_time=False)
    assert read == value
    assert said is None if how is None else how in (said or "")


@pytest.mark.parametrize("text, value, how", TIMES)
def test_timestamps_in_the_forms_systems_write(text: str, value: datetime, how: str | None) -> None:
    read, said = read_moment(text, with_time=True)
    assert read == value
    assert said is None if how is None else how in (said or "")


@pytest.mark.parametrize("text", ["", "30/13/2020", "2020/02/30", "yesterday", "30/10/20", "2020/10/30 25:00:00",
                                  "2020/10/30 13:00:00 PM"])
def test_what_is_no_date_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        read_moment(text, with_time=True)


def _package(organ: str = "000.00.00.G22", date_text: str = "2020/10/30") -> bytes:
    pkg = edxml.build_document(sender=edxml.Organization("000.00.00.H41", "Nghệ An"),
                               recipients=[edxml.Organization(organ, "Hòa Sơn")], code=edxml.Code("1", "UBND"),
                               subject="Thử", promulgation_date=date(2020, 10, 30))
    return edxml.serialize(pkg).replace(b"<PromulgationDate>2020/10/30<", f"<PromulgationDate>{date_text}<".encode())


def test_strict_takes_only_the_standard_forms_and_lenient_says_how_it_read_others() -> None:
    data = _package(date_text="30/10/2020")
    strict = edxml.validate(data, profile="strict")
    lenient = edxml.validate(data, profile="lenient")
    assert not strict.ok and "PromulgationDate" in strict.errors[0].message
    assert lenient.ok and any("'30/10/2020' read as 2020/10/30 (dd/MM/yyyy)" in w.message for w in lenient.warnings)
    assert lenient.package is not None
    assert lenient.package.header.promulgation.promulgation_date == date(2020, 10, 30)  # type: ignore[union-attr]


def test_an_organ_id_the_directory_holds_is_valid_in_strict_whatever_its_form() -> None:
    data = _package(organ="28.22.H17")
    assert not edxml.validate(data, profile="strict").ok
    assert not edxml.validate(data, profile="strict", known_organs={"000.00.00.H41"}).ok
    held = edxml.validate(data, profile="strict", known_organs={"28.22.H17"})
    assert held.ok and any("the directory holds it" in w.message for w in held.warnings)


def test_a_trace_header_is_history_and_never_a_reason_to_refuse() -> None:
    hop = b"<TraceHeader>\n          <OrganId>000.00.00.H41</OrganId>"
    data = _package()
    assert hop in data
    for organ, said in ((b"vxp.saas.03", "TraceHeader OrganId 'vxp.saas.03'"), (b"null", "read as no value")):
        odd = data.replace(hop, b"<TraceHeader>\n          <OrganId>" + organ + b"</OrganId>")
        for profile in ("strict", "lenient"):
            report = edxml.validate(odd, profile=profile)  # type: ignore[arg-type]
            assert report.ok, report.errors
            assert any(said in w.message for w in report.warnings), report.warnings


def test_completion_fills_what_strict_needs_from_the_package_and_the_directory() -> None:
    bare = edxml.DocumentPackage(
        header=edxml.MessageHeader(
            from_=edxml.Organization("000.00.00.H41"), to=(edxml.Organization("28.22.H17"),),
            document_id="000.00.00.H41,2020/10/30,7/UBND-VX", code=edxml.Code("", ""), subject="",
            content="Đề nghị phối hợp", steering_type=None),
        trace=edxml.TraceHeaderList(()))
    names = {"000.00.00.H41": "UBND Tỉnh Nghệ An", "28.22.H17": "UBND xã Hòa Sơn"}
    at = datetime(2020, 10, 30, 9, 0, 0)
    done, notes = edxml.complete_package(bare, at=at, directory=names.get)
    assert isinstance(done, edxml.DocumentPackage)
    assert (done.header.code.code_number, done.header.code.code_notation) == ("7", "UBND-VX")
    assert done.header.promulgation.promulgation_date == date(2020, 10, 30)
    assert done.header.subject == "Đề nghị phối hợp" and done.header.steering_type == 0
    assert done.header.to[0].organ_name == "UBND xã Hòa Sơn"
    assert done.trace.trace_headers == (edxml.TraceHeader("000.00.00.H41", at),)
    assert done.trace.business is not None and done.trace.business.document_id == done.document_id
    assert len(notes) == 8
    report = edxml.validate(edxml.serialize(done), profile="strict", known_organs=set(names))
    assert report.ok, report.errors
