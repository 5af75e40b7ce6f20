"""`sendEdoc`: both body forms, the hash check, routing checks against the package, idempotent re-sends."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from agents.vdxp import SdkClientRegistry, create_vdxp_app
from agents.vdxp._sending import parse_to_header
from vdxp_helpers import G22, H13, H41, FakeAgentService, SdkLikeClient, sample, sdk_hex

EDOC = "edoc_new.edxml"  # starts with junk bytes "1212" and carries the SDK's legacy <Signature>


async def test_the_sdks_octet_stream_send_is_answered_with_a_docid(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    answer = (await sdk().send_edoc(sample(EDOC), from_=H13)).json()
    assert answer["status"] == "OK" and answer["DocId"] == fake.outbox[0][0].message_id
    assert fake.outbox[0][1] == sample(EDOC)  # the file without the SDK's trailing CRLF


async def test_a_resent_package_gets_the_docid_of_the_first_send_and_is_queued_once(
        sdk: Callable[..., SdkLikeClient], fake: FakeAgentService) -> None:
    first = (await sdk().send_edoc(sample(EDOC), from_=H13)).json()
    again = (await sdk(timestamp="27112026T090000+0001").send_edoc(sample(EDOC), from_=H13)).json()
    assert first["DocId"] == again["DocId"] and len(fake.outbox) == 1


@pytest.mark.parametrize("form", ["full", "short"])
@pytest.mark.parametrize("with_crlf", [True, False])
async def test_hash_file_is_accepted_in_both_hex_forms_with_or_without_the_crlf(
        http: httpx.AsyncClient, form: str, with_crlf: bool) -> None:
    file = sample(EDOC)
    digest = hashlib.sha256(file).hexdigest() if form == "full" else sdk_hex(file)
    body = file + b"\r\n" if with_crlf else file
    answer = await SdkLikeClient(http, H13).call(
        "/sendEdoc", {"messagetype": "edoc", "hash-file": digest, "from": H13}, body=body,
        content_type="application/octet-stream")
    assert answer.json()["status"] == "OK", answer.json()


async def test_a_hash_file_that_does_not_match_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    client = sdk()
    answer = await client.call("/sendEdoc", {"messagetype": "edoc", "hash-file": sdk_hex(b"other"), "from": H13},
                               body=sample(EDOC) + b"\r\n", content_type="application/octet-stream")
    assert answer.status_code == 400 and "hash-file does not match" in answer.json()["ErrorDesc"]


async def test_a_send_without_a_signed_hash_file_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().call("/sendEdoc", {"messagetype": "edoc", "from": H13}, body=sample(EDOC),
                              content_type="application/octet-stream")
    assert answer.status_code == 400 and "XroadVnpt-hash-file" in answer.json()["ErrorDesc"]


async def test_a_multipart_send_with_file_doc_is_accepted(http: httpx.AsyncClient, fake: FakeAgentService) -> None:
    file = sample(EDOC)
    request = httpx.Request("POST", "http://agent/sendEdoc", files={"file_doc": ("doc.edxml", file)})
    client = SdkLikeClient(http, H13)
    answer = await client.call("/sendEdoc", {"messagetype": "edoc", "hash-file": sdk_hex(file), "from": H13},
                               body=request.read(), content_type=request.headers["content-type"])
    assert answer.json()["status"] == "OK", answer.json()
    assert fake.outbox[0][1] == file


async def test_a_multipart_send_without_file_doc_is_refused(http: httpx.AsyncClient) -> None:
    request = httpx.Request("POST", "http://agent/sendEdoc", files={"file": ("doc.edxml", b"<x/>")})
    answer = await SdkLikeClient(http, H13).call(
        "/sendEdoc", {"messagetype": "edoc", "hash-file": sdk_hex(b"<x/>"), "from": H13},
        body=request.read(), content_type=request.headers["content-type"])
    assert answer.status_code == 400 and "file_doc" in answer.json()["ErrorDesc"]


async def test_a_to_header_that_agrees_with_the_package_is_accepted(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().send_edoc(sample(EDOC), from_=H13, to='"[\\"28.22.H17\\"]"')
    assert answer.json()["status"] == "OK", answer.json()


async def test_a_to_header_that_disagrees_with_the_package_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().send_edoc(sample(EDOC), from_=H13, to='"[\\"000.00.00.G22\\"]"')
    assert answer.status_code == 400 and "28.22.H17" in answer.json()["ErrorDesc"]


@pytest.mark.parametrize("value, organs", [
    ('"[\\"000.00.00.G22\\"]"', {G22}), ('["000.00.00.G22","000.00.00.H41"]', {G22, H41}),
    ("000.00.00.G22", {G22}), ("000.00.00.G22, 000.00.00.H41", {G22, H41}),
])
def test_the_to_header_is_read_in_every_form_clients_send(value: str, organs: set[str]) -> None:
    assert parse_to_header(value) == organs


async def test_a_messagetype_that_does_not_match_the_file_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().send_edoc(sample(EDOC), messagetype="status", from_=H13)
    assert answer.status_code == 400 and "edoc package" in answer.json()["ErrorDesc"]


async def test_a_from_the_client_may_not_send_for_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().send_edoc(sample("status_acceptance_03.edxml"), messagetype="status", from_=H41)
    assert answer.status_code == 403 and "may not send for organ 000.00.00.H41" in answer.json()["ErrorDesc"]


async def test_a_from_header_that_differs_from_the_package_is_refused(sdk: Callable[..., SdkLikeClient]) -> None:
    answer = await sdk().send_edoc(sample("status_acceptance_03.edxml"), messagetype="status", from_=H13)
    assert answer.status_code == 400 and "From/OrganId is 000.00.00.H41" in answer.json()["ErrorDesc"]


async def test_a_file_that_is_not_edxml_is_a_fail_answer(sdk: Callable[..., SdkLikeClient]) -> None:
    for junk in (b"not xml at all", b"<edXML><unclosed>", b"<?xml version='1.0'?><other/>"):
        answer = await sdk().send_edoc(junk, from_=H13)
        assert answer.status_code == 400 and answer.json()["status"] == "FAIL", junk


async def test_an_oversized_body_is_refused_without_reading_it_all(
        fake: FakeAgentService, registry: SdkClientRegistry) -> None:
    app = create_vdxp_app(fake, registry, max_package_bytes=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://agent") as http:
        answer = await SdkLikeClient(http, H13).send_edoc(sample(EDOC), from_=H13)
    assert answer.status_code == 413 and answer.json()["status"] == "FAIL"
