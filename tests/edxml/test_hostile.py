"""Hostile and malformed input: refused with a located error, never expanded, fetched or read."""

from __future__ import annotations

from pathlib import Path

import pytest

from edxml import PackageTooLarge, XmlSyntaxError, load_tree, parse_package, validate

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE edXML [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol9;</edXML>"""


@pytest.mark.parametrize("profile", ["strict", "lenient"])
def test_billion_laughs_is_refused_without_expansion(profile: str) -> None:
    report = validate(BILLION_LAUGHS, profile=profile, source="laughs.xml")  # type: ignore[arg-type]
    assert not report.ok
    assert report.errors[0].source == "laughs.xml"
    assert "DOCTYPE" in report.errors[0].message or "entit" in report.errors[0].message.lower()


def test_an_external_file_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = f"""<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file://{secret}">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&xxe;</edXML>""".encode()
    with pytest.raises(XmlSyntaxError) as info:
        load_tree(data, source="xxe.xml")
    assert "TOP-SECRET-CONTENT" not in str(info.value)
    assert info.value.line == 1 and "DOCTYPE" in str(info.value)


def test_an_external_network_entity_or_dtd_is_never_fetched() -> None:
    # 192.0.2.1 is TEST-NET-1: a fetch attempt would hang or fail differently; no_network refuses first.
    data = b"""<?xml version="1.0"?>
<!DOCTYPE edXML SYSTEM "http://192.0.2.1/evil.dtd" [<!ENTITY net SYSTEM "http://192.0.2.1/x">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&net;</edXML>"""
    with pytest.raises(XmlSyntaxError, match=r"^net\.xml:2: .*network entity"):
        parse_package(data, source="net.xml")


def test_an_oversized_package_is_refused_before_parsing() -> None:
    with pytest.raises(PackageTooLarge) as info:
        load_tree(b"<a/>" + b" " * 100, source="big.xml", max_bytes=64)
    assert str(info.value) == "big.xml:?: package is 104 bytes, over the limit of 64"
    report = validate(b"<a/>" * 100, max_bytes=64)
    assert not report.ok and "over the limit" in report.errors[0].message


def test_not_well_formed_input_names_the_line() -> None:
    report = validate(b'<?xml version="1.0"?>\n<edXML>\n<a></b>\n</edXML>', source="bad.xml")
    assert [(e.source, e.line) for e in report.errors] == [("bad.xml", 3)]


def test_an_unknown_undeclared_prefix_is_not_repaired_even_in_lenient() -> None:
    data = b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><foo:x/></edXML>'
    report = validate(data, profile="lenient", source="foo.xml")
    assert [str(e) for e in report.errors] == ["foo.xml:1: Namespace prefix foo on x is not defined, line 1, column 62"]


def test_the_wrong_root_is_reported() -> None:
    report = validate(b"<html/>", profile="lenient")
    assert report.errors[0].message.startswith("the root element is html")
