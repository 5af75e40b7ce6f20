"""Fixtures for the signing tests: one dev PKI per session (ECDSA CA for speed), agencies on it."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from signing import DevPki, Signer, SigningIdentity, TrustStore, Verifier
from signing_helpers import NGHE_AN, VPCP



@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """An unclosed resource warns in the test that leaked it, not in a later one."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    pki = DevPki(tmp_path_factory.mktemp("pki"))
    pki.init(algorithm="ec")
    pki.issue(VPCP, "Văn phòng Chính phủ", "rsa")
    pki.issue(NGHE_AN, "UBND Tỉnh Nghệ An", "ec")
    return pki


@pytest.fixture(scope="session")
def identity(pki: DevPki) -> Callable[[str], SigningIdentity]:
    def load(organ_id: str) -> SigningIdentity:
        return SigningIdentity.from_files(pki.key_path(organ_id), pki.cert_path(organ_id))

    return load


@pytest.fixture(scope="session")
def signer(identity: Callable[[str], SigningIdentity]) -> Callable[[str], Signer]:
    return lambda organ_id: Signer(identity(organ_id))


@pytest.fixture
def verifier(pki: DevPki) -> Verifier:
    return Verifier(TrustStore.from_files([pki.ca_path], [pki.crl_path]))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A second CA nobody trusts, issuing a certificate with the very same organ id."""
    pki = DevPki(tmp_path_factory.mktemp("other-pki"))
    pki.init(algorithm="ec")
    pki.issue(VPCP, "Văn phòng Chính phủ (giả mạo)", "ec")
    return pki

