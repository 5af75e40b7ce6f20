"""Property: any package we can build survives serialise -> parse unchanged, and is strict-valid."""

from __future__ import annotations

import string
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edxml import (
    Attachment,
    BusinessDocType,
    Bussiness,
    BussinessDocumentInfo,
    Code,
    DocumentPackage,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    Signature,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
    new_document_id,
    parse_package,
    serialize,
    validate,
)

# Any text XML 1.0 can carry (no control characters or surrogates), including leading/trailing spaces.
text = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff", include_characters="\t\n\r"),
    max_size=30,
)
words = text.filter(lambda s: s.strip() != "")
# Identifiers (codes, ids) are read without surrounding whitespace.
ids = text.map(str.strip)
token = st.text(string.ascii_uppercase + string.digits + "-Đ", min_size=1, max_size=12)
dates = st.dates(date(1900, 1, 1), date(2200, 12, 31))
times = st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31)).map(lambda t: t.replace(microsecond=0))
organ_ids = st.builds(
    "{:03d}.{:02d}.{:02d}.{}{:02d}".format,
    st.integers(0, 999), st.integers(0, 99), st.integers(0, 99), st.sampled_from("GHKA"), st.integers(0, 99),
)  # fmt: skip
small = st.integers(0, 10**6)
organizations = st.builds(
    Organization, organ_ids, organ_name=words, organization_in_charge=text, organ_add=text, email=text,
    telephone=text, fax=text, website=text,
)  # fmt: skip
codes = st.builds(Code, token, token)
document_ids = st.builds(new_document_id, organ_ids, dates, token, token)
staff = st.builds(StaffInfo, text, text, text, text)
response_for = st.builds(ResponseFor, organ_ids, ids, st.none() | dates, document_ids)
signatures = st.none() | st.builds(
    lambda v: Signature("xmldsig", f'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureValue>{v}</SignatureValue></Signature>'.encode()),
    st.text(string.ascii_letters + string.digits + "+/=", max_size=20),
)  # fmt: skip
attachments = st.lists(
    st.builds(
        lambda i, name, ctype, desc, data: Attachment(f"cid:{i}", name, ctype, desc, data=data),
        st.uuids(), text, token, text, st.binary(max_size=300),
    ),
    max_size=3,
    unique_by=lambda a: a.content_id,
)  # fmt: skip
headers = st.builds(
    MessageHeader,
    from_=organizations,
    to=st.lists(organizations, min_size=1, max_size=3).map(tuple),
    document_id=document_ids,
    code=codes,
    subject=words,
    promulgation=st.builds(PromulgationInfo, text, dates),
    document_type=st.builds(DocumentType, st.none() | small, st.none() | small, text),
    content=text,
    signer=st.builds(SignerInfo, text, text, text),
    due_date=st.none() | dates,
    to_places=st.lists(text, max_size=3).map(tuple),
    other=st.builds(
        OtherInfo, st.integers(0, 4), text, text, st.none() | small, st.none() | small, st.none() | st.booleans(),
        st.lists(text, max_size=2).map(tuple),
    ),  # fmt: skip
    response_for=st.lists(response_for, max_size=2).map(tuple),
    steering_type=small,
)
business = st.builds(
    Bussiness,
    st.sampled_from(BusinessDocType),
    st.just("") | document_ids,
    text,
    st.booleans(),
    st.none() | st.builds(BussinessDocumentInfo, st.sampled_from(["", "0", "1"]), st.sampled_from(["", "0", "1"]),
                          st.lists(st.builds(Receiver, organ_ids, st.integers(0, 3)), max_size=2).map(tuple)),
    st.lists(st.builds(ReplacementInfo, document_ids, st.lists(organ_ids, max_size=2).map(tuple)), max_size=2).map(tuple),
    st.none() | staff,
)  # fmt: skip
traces = st.builds(
    TraceHeaderList, st.lists(st.builds(TraceHeader, organ_ids, times), min_size=1, max_size=3).map(tuple), business
)
documents = st.builds(DocumentPackage, headers, traces, attachments, signatures)
statuses = st.builds(
    StatusPackage, organizations, response_for, st.sampled_from(StatusCode), times, text, st.none() | staff, signatures
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(documents)
def test_a_document_package_round_trips_and_is_strict_valid(pkg: DocumentPackage) -> None:
    data = serialize(pkg)
    report = validate(data, profile="strict")
    assert report.ok, [str(e) for e in report.errors]
    assert report.package == pkg
    assert parse_package(data) == pkg


@FAST
@given(statuses)
def test_a_status_package_round_trips_and_is_strict_valid(pkg: StatusPackage) -> None:
    data = serialize(pkg)
    report = validate(data, profile="strict")
    assert report.ok, [str(e) for e in report.errors]
    assert report.package == pkg


@FAST
@given(documents)
def test_serialising_is_deterministic_and_idempotent(pkg: DocumentPackage) -> None:
    data = serialize(pkg)
    assert serialize(parse_package(data)) == data
