"""The public surface of `signing`, its error tree, and the lxml/xmlsec pairing it relies on."""

from __future__ import annotations

import lxml.etree
import pytest
import xmlsec

import signing
from signing.errors import REASONS, PkiError, SignatureInvalid, SigningError, SigningFailed


def test_all_is_sorted_and_every_name_is_exported() -> None:
    assert signing.__all__ == sorted(signing.__all__)
    for name in signing.__all__:
        assert hasattr(signing, name), name


def test_exported_members_come_from_private_modules_under_the_package() -> None:
    # isidentifier(): the axis pytest plugin makes pytest rewrite this distribution's asserts (`@py_builtins`).
    public = {name for name in dir(signing) if name.isidentifier() and not name.startswith("_")}
    submodules = {"errors"}
    assert public - submodules == set(signing.__all__)
    for name in signing.__all__:
        member = getattr(signing, name)
        module = getattr(member, "__module__", "signing")
        assert module.startswith("signing") or module == "typing", (name, module)


def test_the_architecture_contract_names_exist() -> None:
    for name in ("SigningIdentity", "Signer", "TrustStore", "Verifier", "VerifiedSignature",
                 "SignatureInvalid", "DevPki", "organ_id_of"):
        assert name in signing.__all__


def test_lxml_and_xmlsec_link_the_same_libxml2() -> None:
    # A mismatch corrupts memory or fails at import; the pins in pyproject.toml keep them together.
    assert xmlsec.get_libxml_version() == lxml.etree.LIBXML_VERSION[:3]
    assert lxml.etree.LIBXML_VERSION == lxml.etree.LIBXML_COMPILED_VERSION


def test_every_error_is_a_signing_error_and_none_is_retriable() -> None:
    for cls in (PkiError, SigningFailed, SignatureInvalid):
        assert issubclass(cls, SigningError)
        assert cls.retriable is False


def test_signature_invalid_carries_its_reason_and_refuses_unknown_ones() -> None:
    err = SignatureInvalid("bad-digest", "content changed")
    assert (err.reason, err.message, str(err)) == ("bad-digest", "content changed", "bad-digest: content changed")
    with pytest.raises(ValueError, match="unknown"):
        SignatureInvalid("nope", "x")  # type: ignore[arg-type]


def test_reason_codes_are_the_architecture_list() -> None:
    assert REASONS == (
        "unsigned", "legacy-signature", "bad-digest", "bad-signature", "untrusted-certificate",
        "certificate-expired", "certificate-not-yet-valid", "certificate-revoked", "wrong-key-usage",
        "organ-mismatch", "signature-wrapping", "malformed",
    )
