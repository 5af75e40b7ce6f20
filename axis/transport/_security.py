"""How every Kafka client of a process connects: TLS (CA, client certificate) and SASL (SCRAM, PLAIN).

`kafka_security(settings)` is called once, where a component is built from its settings: it reads the
certificate and key files then, so a missing, unreadable or wrong file stops the start with the name of the
setting and the path, rather than surfacing later as a connection that never comes up. The resulting
`KafkaSecurity` goes to every client maker (`client_options()` is the one translation into aiokafka's
keyword arguments, the same for producers, consumers, admin clients and single connections).

aiokafka logs a failed TLS handshake or SASL authentication and then raises only "Unable to bootstrap";
`map_connect_errors` repeats one connection when a secured client fails to start and puts the reason
(certificate verify failed, authentication failed) into the `TransportUnavailable` it raises.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import errors as kerr
from aiokafka.conn import collect_hosts, create_conn
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from axis.errors import SettingsError, TransportUnavailable
from axis.settings import Secret, Settings

from ._errors import map_kafka_errors

_PROBE_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The security options shared by all Kafka clients of a process; `PLAINTEXT` is the embedded default."""

    protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None

    def client_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments: producers, consumers, admin clients and `create_conn` take the same."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return options


PLAINTEXT = KafkaSecurity()


def _read(setting: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def _check_certificates(setting: str, path: Path) -> None:
    try:
        x509.load_pem_x509_certificates(_read(setting, path))
    except ValueError as exc:
        raise SettingsError(f"{setting}: {path} is not a PEM certificate ({exc})") from None


def _check_key(setting: str, path: Path, password: Secret | None) -> None:
    secret = password.get_secret_value().encode() if password else None
    try:
        serialization.load_pem_private_key(_read(setting, path), secret)
    except TypeError:  # encrypted without a password, or a password for a key that has none
        needs = "is encrypted: set kafka_ssl_password" if secret is None else "is not encrypted: unset kafka_ssl_password"
        raise SettingsError(f"{setting}: the key in {path} {needs}") from None
    except ValueError as exc:
        wrong = "kafka_ssl_password does not decrypt it" if secret is not None else f"not a PEM private key ({exc})"
        raise SettingsError(f"{setting}: {path}: {wrong}") from None


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client context (hostname checked, CERT_REQUIRED), each file checked first so errors name the setting."""
    cafile, certfile = settings.kafka_ssl_cafile, settings.kafka_ssl_certfile
    keyfile = settings.kafka_ssl_keyfile
    if cafile is not None:
        _check_certificates("kafka_ssl_cafile", cafile)
    if certfile is not None:
        _check_certificates("kafka_ssl_certfile", certfile)
        key_setting, key_path = ("kafka_ssl_keyfile", keyfile) if keyfile is not None else ("kafka_ssl_certfile", certfile)
        _check_key(key_setting, key_path, settings.kafka_ssl_password)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if certfile is not None:
        password = settings.kafka_ssl_password.get_secret_value() if settings.kafka_ssl_password else None
        try:
            context.load_cert_chain(certfile, keyfile, password)
        except ssl.SSLError as exc:
            raise SettingsError(
                f"kafka_ssl_certfile {certfile} and kafka_ssl_keyfile {keyfile or certfile} do not belong "
                f"together ({exc.reason or exc})"
            ) from None
    return context


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The process's `KafkaSecurity`, with its files read now; raises `SettingsError` naming setting and path."""
    protocol = settings.kafka_security_protocol
    sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    # Checked here, not in Settings: commands that never connect to Kafka run without credentials.
    missing = [name for name in ("kafka_sasl_username", "kafka_sasl_password") if sasl and not getattr(settings, name)]
    if missing:
        raise SettingsError(f"kafka_security_protocol {protocol} needs {' and '.join(missing)}")
    return KafkaSecurity(
        protocol=protocol,
        ssl_context=_ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None,
        sasl_mechanism=settings.kafka_sasl_mechanism if sasl else None,
        sasl_username=settings.kafka_sasl_username if sasl else None,
        sasl_password=settings.kafka_sasl_password if sasl else None,
    )


def _hint(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return " (is kafka_ssl_cafile the CA that signed the brokers' certificates?)"
    if isinstance(exc, (kerr.AuthenticationFailedError, kerr.UnsupportedSaslMechanismError)):
        return " (check kafka_sasl_mechanism, kafka_sasl_username and kafka_sasl_password)"
    return ""


async def connection_failure(bootstrap: str, security: KafkaSecurity) -> str | None:
    """Why no bootstrap server takes a connection with `security` (TLS, ApiVersions, SASL), or None if one does."""
    reasons = []
    for host, port, _ in collect_hosts(bootstrap, randomize=False):
        try:
            conn = await create_conn(host, port, request_timeout_ms=_PROBE_TIMEOUT_MS, **security.client_options())
        except (OSError, kerr.KafkaError, TimeoutError) as exc:
            reasons.append(f"{host}:{port}: {exc}{_hint(exc)}")
        else:
            conn.close()
            return None
    return "; ".join(reasons)


@contextlib.asynccontextmanager
async def map_connect_errors(operation: str, bootstrap: str, security: KafkaSecurity) -> AsyncIterator[None]:
    """`map_kafka_errors` around a client's start that says why a secured connection failed."""
    try:
        with map_kafka_errors(operation):
            yield
    except TransportUnavailable as exc:
        if security.protocol == "PLAINTEXT" or not isinstance(exc.__cause__, kerr.KafkaConnectionError):
            raise
        reason = await connection_failure(bootstrap, security)
        if not reason:
            raise
        raise TransportUnavailable(f"{operation}: no {security.protocol} connection: {reason}") from exc
