"""Agency PKI and XML signatures of EDXML packages. No Kafka, no database.

Sign with `Signer(SigningIdentity.from_files(key, cert)).sign(data)`; verify with
`Verifier(TrustStore.from_files([ca], [crl])).verify(data_or_root)`, which returns who signed or
raises `SignatureInvalid(reason)`. `DevPki` runs the development PKI of the embedded exchange.
"""

from ._keys import ALGORITHMS, Algorithm, SigningIdentity, fingerprint_of, organ_id_of
from ._pki import CertificateInfo, DevPki
from ._sign import Signer
from ._trust import TrustStore
from ._verify import VerifiedSignature, Verifier
from .errors import REASONS, PkiError, Reason, SignatureInvalid, SigningError, SigningFailed

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "CertificateInfo",
    "DevPki",
    "PkiError",
    "REASONS",
    "Reason",
    "SignatureInvalid",
    "Signer",
    "SigningError",
    "SigningFailed",
    "SigningIdentity",
    "TrustStore",
    "VerifiedSignature",
    "Verifier",
    "fingerprint_of",
    "organ_id_of",
]
