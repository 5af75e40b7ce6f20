"""Secured Kafka: TLS through a real terminator in front of the embedded broker, bad files at start, and the
ACLs `axis kafka acls` derives from a directory in a real PostgreSQL.

Tansu speaks neither TLS nor SASL, so a small asyncio TLS terminator (mutual TLS: it requires a client
certificate from the test CA) sits in front of it, and the broker advertises the terminator's port: every
connection a client makes after bootstrap goes through TLS too, and the terminator records each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agents.bootstrap import build_agent
from axis.cli.exchange_cmds import agency
from axis.cli.kafka_cmds import kafka
from axis.embedded import EmbeddedBroker, free_port
from axis.errors import SettingsError, TransportUnavailable
from axis.kafka_acls import ROUTER_USER, STATS_USER, acl_plan, agent_user, nested_organ_ids
from axis.router import Router
from axis.settings import Settings, load_settings
from axis.stats._engine import Engine  # the faust app id and its internal topic names
from axis.transport import (
    AclBinding,
    Consumer,
    EpochWatch,
    OutRecord,
    Publisher,
    exchange_topics,
    kafka_security,
)
from signing import DevPki

KEY_PASSWORD = "correct horse"


# --- a test CA and certificates ------------------------------------------------------------------------

def _certificate(name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
                 *, server: bool = False) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Tls:
    """File paths of a test PKI: the CA, the broker's pair, a client pair (key encrypted), a stranger CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _write_pki(folder: Path) -> Tls:
    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
        encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                      else serialization.NoEncryption())
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    ca_key, server_key, client_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    ca = _certificate("axis test CA", ca_key, None)
    files = {
        "ca": pem(ca),
        "server_cert": pem(_certificate("broker", server_key, (ca.subject, ca_key), server=True)),
        "server_key": key_pem(server_key),
        "client_cert": pem(_certificate(ROUTER_USER, client_key, (ca.subject, ca_key))),
        "client_key": key_pem(client_key, KEY_PASSWORD),
        "other_ca": pem(_certificate("another CA", other_key, None)),
    }
    for name, data in files.items():
        (folder / f"{name}.pem").write_bytes(data)
    return Tls(**{name: folder / f"{name}.pem" for name in files})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return _write_pki(tmp_path_factory.mktemp("kafka-tls"))


def _tls_settings(tls: Tls, bootstrap: str = "127.0.0.1:1", **changes: object) -> Settings:
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap, "kafka_security_protocol": "SSL", "kafka_ssl_cafile": tls.ca,
        "kafka_ssl_certfile": tls.client_cert, "kafka_ssl_keyfile": tls.client_key, "kafka_ssl_password": KEY_PASSWORD,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


# --- a TLS terminator in front of the embedded broker ---------------------------------------------------

class TlsTerminator:
    """Accepts mutual-TLS connections on `port` and pipes each to the broker's plaintext port."""

    def __init__(self, tls: Tls, broker_port: int) -> None:
        self.port = free_port()
        self._broker_port = broker_port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls.ca)
        self._context.load_cert_chain(tls.server_cert, tls.server_key)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.clients: list[str] = []  # the CN of each client certificate, one per accepted connection

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self._context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        subject = dict(field[0] for field in writer.get_extra_info("peercert")["subject"])
        self.clients.append(subject["commonName"])
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self._broker_port)
        try:
            await asyncio.gather(self._pipe(reader, broker_writer), self._pipe(broker_reader, writer))
        finally:
            for w in (writer, broker_writer):
                w.close()
            self._handlers.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while data := await reader.read(256 * 1024):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
async def terminated(tls: Tls, tmp_path: Path) -> AsyncIterator[TlsTerminator]:
    """An embedded broker reachable only through the TLS terminator (it advertises the terminator's port)."""
    broker_port = free_port()
    async with (
        TlsTerminator(tls, broker_port) as terminator,
        EmbeddedBroker(broker_port, advertised_port=terminator.port, log_path=tmp_path / "tansu.log"),
    ):
        yield terminator


# --- TLS ------------------------------------------------------------------------------------------------

async def test_every_client_kind_round_trips_records_through_tls_only(tls: Tls, terminated: TlsTerminator) -> None:
    bootstrap = f"127.0.0.1:{terminated.port}"
    security = kafka_security(_tls_settings(tls, bootstrap))
    topics = exchange_topics((1, 1), ["000.00.00.G22"])
    async with EpochWatch(bootstrap, lambda: topics, security=security) as watch:  # admin, reader, epoch record
        async with Publisher(bootstrap, security=security) as publisher:
            await publisher.publish_many([OutRecord("edx.inbox.000.00.00.G22", b"k", f"doc {i}".encode())
                                          for i in range(3)])
        consumer = Consumer(bootstrap, ["edx.inbox.000.00.00.G22"], group_id="agent.000.00.00.G22",
                            epoch=watch.epoch, security=security)
        async with consumer:
            received: list[bytes] = []
            async with asyncio.timeout(20):
                while len(received) < 3:
                    batch = await consumer.getmany(timeout_s=0.5)
                    received += [r.value for r in batch.records]
                    assert await consumer.commit(batch) or not batch.records
    assert received == [b"doc 0", b"doc 1", b"doc 2"]
    # Bootstrap and node connections of the admin client, the epoch reader, two producers and the consumer
    # (and its group coordinator) all came through the terminator with the client certificate.
    assert len(terminated.clients) >= 6 and set(terminated.clients) == {ROUTER_USER}


async def test_a_client_that_does_not_trust_the_brokers_ca_is_refused_with_the_reason(
    tls: Tls, terminated: TlsTerminator
) -> None:
    bootstrap = f"127.0.0.1:{terminated.port}"
    stranger = kafka_security(_tls_settings(tls, bootstrap, kafka_ssl_cafile=tls.other_ca))
    with pytest.raises(TransportUnavailable) as refused:
        await Publisher(bootstrap, security=stranger).start()
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) and "kafka_ssl_cafile" in str(refused.value)
    with pytest.raises(TransportUnavailable):  # and a plaintext client does not get through either
        await Publisher(bootstrap).start()
    assert terminated.clients == []


async def test_sasl_settings_reach_the_client_and_the_brokers_answer_is_named(
    tls: Tls, terminated: TlsTerminator
) -> None:
    bootstrap = f"127.0.0.1:{terminated.port}"
    settings = _tls_settings(tls, bootstrap, kafka_security_protocol="SASL_SSL", kafka_sasl_username="agent.x",
                             kafka_sasl_password="secret")
    with pytest.raises(TransportUnavailable) as refused:  # Tansu has no SASL: its handshake answer says so
        await Consumer(bootstrap, ["edx.directory"], group_id=None, security=kafka_security(settings)).start()
    assert "UnsupportedSaslMechanism" in str(refused.value) and "kafka_sasl_mechanism" in str(refused.value)
    assert terminated.clients  # the TLS part was accepted: SASL came after it


# --- files and settings, checked at start ---------------------------------------------------------------

def _bad_files(tls: Tls, tmp: Path) -> list[tuple[dict[str, object], str, Path]]:
    """(settings changes, the setting the error must name, the path it must name)."""
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    plain_key = tmp / "plain-key.pem"
    plain_key.write_bytes(serialization.load_pem_private_key(tls.client_key.read_bytes(), KEY_PASSWORD.encode())
                          .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    missing = tmp / "missing-ca.pem"
    return [
        ({"kafka_ssl_cafile": missing}, "kafka_ssl_cafile", missing),
        ({"kafka_ssl_cafile": tmp}, "kafka_ssl_cafile", tmp),  # a directory: unreadable as a file
        ({"kafka_ssl_cafile": garbage}, "kafka_ssl_cafile", garbage),
        ({"kafka_ssl_certfile": tmp / "missing.pem"}, "kafka_ssl_certfile", tmp / "missing.pem"),
        ({"kafka_ssl_keyfile": garbage}, "kafka_ssl_keyfile", garbage),
        ({"kafka_ssl_password": "wrong"}, "kafka_ssl_password", tls.client_key),
        ({"kafka_ssl_password": None}, "kafka_ssl_password", tls.client_key),
        ({"kafka_ssl_keyfile": plain_key, "kafka_ssl_password": None, "kafka_ssl_certfile": tls.server_cert},
         "kafka_ssl_keyfile", plain_key),  # a key that is not the certificate's
    ]


def test_a_missing_or_bad_tls_file_stops_the_start_naming_the_setting_and_the_path(tls: Tls, tmp_path: Path) -> None:
    for changes, setting, path in _bad_files(tls, tmp_path):
        with pytest.raises(SettingsError) as bad:
            kafka_security(_tls_settings(tls, **changes))
        assert setting in str(bad.value) and str(path) in str(bad.value), (changes, str(bad.value))


def test_a_command_with_a_missing_ca_fails_before_touching_anything(tmp_path: Path) -> None:
    env = {"AXIS_KAFKA_SECURITY_PROTOCOL": "SSL", "AXIS_KAFKA_SSL_CAFILE": str(tmp_path / "nope.pem"),
           "AXIS_KAFKA_BOOTSTRAP": "127.0.0.1:1", "AXIS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "AXIS_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(kafka, ["acls", "--apply"], env=env)
    assert result.exit_code == 1
    assert f"kafka_ssl_cafile: cannot read {tmp_path / 'nope.pem'}: No such file or directory" in result.output


def test_security_settings_come_from_the_environment_and_contradictions_are_errors(tls: Tls) -> None:
    settings = load_settings({"AXIS_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "AXIS_KAFKA_SASL_MECHANISM": "plain",
                              "AXIS_KAFKA_SASL_USERNAME": "agent.000.00.00.G22", "AXIS_KAFKA_SASL_PASSWORD": "pw",
                              "AXIS_KAFKA_SSL_CAFILE": str(tls.ca)})
    assert "pw" not in repr(settings)
    options = kafka_security(settings).client_options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "PLAIN"
    assert options["sasl_plain_username"] == "agent.000.00.00.G22" and options["sasl_plain_password"] == "pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert kafka_security(Settings()).client_options() == {"security_protocol": "PLAINTEXT"}
    for changes, names in [
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_username": "u"}, "kafka_sasl_username is set but kafka_security_protocol is PLAINTEXT"),
        ({"kafka_ssl_cafile": tls.ca}, "kafka_ssl_cafile is set but kafka_security_protocol is PLAINTEXT"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": tls.client_key}, "without kafka_ssl_certfile"),
        ({"kafka_security_protocol": "SSL", "kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ]:
        with pytest.raises(SettingsError, match=names):
            Settings(**changes)  # type: ignore[arg-type]
    # Credentials are needed only by what connects: `axis agency add` runs with a secured config and none.
    no_credentials = Settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(SettingsError, match="kafka_sasl_username and kafka_sasl_password"):
        kafka_security(no_credentials)


# --- ACLs from the directory ----------------------------------------------------------------------------

def allowed(acls: Iterable[AclBinding], user: str, operation: str, resource: str, name: str) -> bool:
    """Kafka's authorizer for ALLOW rules: a literal or prefix match, ALL covers all, READ/WRITE imply DESCRIBE."""
    granting = {operation, "ALL"} | ({"READ", "WRITE"} if operation == "DESCRIBE" else set())
    return any(
        b.principal == f"User:{user}" and b.resource_type == resource and b.operation in granting
        and (b.resource_name == name if b.pattern_type == "LITERAL" else name.startswith(b.resource_name))
        for b in acls
    )


ACTIVE = ("000.00.00.G22", "000.00.00.H41", "000.00.00.H4")  # H4 is no prefix of H41: groups end with a dot
DISABLED = "000.00.00.A01"
EPOCH = "3f2a"


def _directory_acls(database_url: str, data_dir: Path) -> tuple[dict[str, list[AclBinding]], str]:
    """Register the agencies with `axis agency`, then read what `axis kafka acls --print` makes of them."""
    DevPki(data_dir / "pki").init(algorithm="ec")
    env = {"AXIS_DATABASE_URL": database_url, "AXIS_KAFKA_BOOTSTRAP": "kafka-1:9092", "AXIS_DATA_DIR": str(data_dir)}
    runner = CliRunner()
    for organ_id in (*ACTIVE, DISABLED):
        added = runner.invoke(agency, ["add", "--organ-id", organ_id, "--name", organ_id], env=env)
        assert added.exit_code == 0, added.output
    assert runner.invoke(agency, ["disable", "--organ-id", DISABLED], env=env).exit_code == 0
    printed = runner.invoke(kafka, ["acls", "--print", "--format", "json"], env=env)
    assert printed.exit_code == 0, printed.output
    plan = {verb: [AclBinding(b["principal"], b["resource_type"], b["pattern_type"], b["resource_name"], b["operation"])
                   for b in bindings] for verb, bindings in json.loads(printed.stdout).items()}
    commands = runner.invoke(kafka, ["acls", "--print"], env=env)
    assert commands.exit_code == 0, commands.output
    return plan, commands.stdout


def test_the_acls_of_the_directory_let_each_agency_write_outbound_and_read_only_its_inbox(
    database_url: str, tmp_path: Path
) -> None:
    plan, commands = _directory_acls(database_url, tmp_path)
    acls = plan["add"]
    newcomer = "000.00.00.Z99"  # joins after the ACLs were applied: the routers can already deliver to it
    inboxes = {organ: f"edx.inbox.{organ}" for organ in (*ACTIVE, DISABLED, newcomer)}
    stats_topics = {f"axis-stats.{EPOCH}-by-agency", f"axis-stats.{EPOCH}-minute-changelog"}
    universe = {*exchange_topics((1, 1)), *inboxes.values(), *stats_topics}

    def topics(user: str, operation: str) -> set[str]:
        return {t for t in universe if allowed(acls, user, operation, "TOPIC", t)}

    for organ in ACTIVE:
        user = agent_user(organ)
        assert topics(user, "WRITE") == {"edx.outbound", "edx.epoch"}
        assert topics(user, "READ") == {inboxes[organ], "edx.directory", "edx.epoch"}
        assert topics(user, "CREATE") == topics(user, "DESCRIBE") == {*exchange_topics((1, 1)), inboxes[organ]}
        assert {o for o in (*ACTIVE, DISABLED) if allowed(acls, user, "READ", "GROUP", f"agent.{o}.{EPOCH}")} == {organ}
        assert not allowed(acls, user, "READ", "GROUP", f"axis-router.{EPOCH}")
        assert (f"kafka-acls.sh --bootstrap-server kafka-1:9092 --command-config admin.properties --add "
                f"--allow-principal User:{user} --operation Create --operation Describe --operation Write "
                "--topic edx.outbound --resource-pattern-type literal") in commands.splitlines()
    assert not any(allowed(acls, agent_user(DISABLED), op, "TOPIC", t) for t in universe for op in ("READ", "WRITE"))
    assert {b.principal for b in plan["remove"]} == {f"User:{agent_user(DISABLED)}"}
    assert f"--remove --force --allow-principal User:{agent_user(DISABLED)}" in commands

    assert topics(ROUTER_USER, "READ") == {"edx.outbound", "edx.epoch"}
    assert topics(ROUTER_USER, "WRITE") == set(universe) - stats_topics
    assert allowed(acls, ROUTER_USER, "READ", "GROUP", f"axis-router.{EPOCH}")
    assert topics(STATS_USER, "READ") == {"edx.events", "edx.epoch", *stats_topics}
    assert topics(STATS_USER, "WRITE") == {"edx.epoch", *stats_topics}
    assert allowed(acls, STATS_USER, "READ", "GROUP", f"axis-stats.{EPOCH}")
    assert not allowed(acls, STATS_USER, "READ", "GROUP", f"axis-router.{EPOCH}")

    # The names in the ACLs are the ones the components use.
    assert inspect.signature(Router).parameters["group_id"].default + f".{EPOCH}" == f"axis-router.{EPOCH}"
    agent = build_agent(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"), ACTIVE[0])
    agent.consumer.epoch = EPOCH
    assert agent.consumer.group_id == f"agent.{ACTIVE[0]}.{EPOCH}"
    engine = Engine("127.0.0.1:1", epoch=EPOCH, partitions=1, tz=ZoneInfo("UTC"), data_dir=tmp_path)
    assert engine.app_id == f"axis-stats.{EPOCH}" and f"{engine.app_id}-by-agency" in stats_topics


def test_apply_against_the_embedded_broker_fails_saying_it_has_no_acls(database_url: str, kafka_bootstrap: str,
                                                                       tmp_path: Path) -> None:
    env = {"AXIS_DATABASE_URL": database_url, "AXIS_KAFKA_BOOTSTRAP": kafka_bootstrap, "AXIS_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(kafka, ["acls", "--apply"], env=env)
    assert result.exit_code == 1
    assert "does not support Kafka ACLs" in result.output and "Tansu" in result.output


def test_nested_organ_ids_are_found_because_their_group_prefixes_overlap() -> None:
    assert nested_organ_ids(["vxp.saas", "vxp.saas.03", "000.00.00.G2", "000.00.00.G22", "28.22.H17"]) == [
        ("vxp.saas", "vxp.saas.03")]
    assert acl_plan([], ["000.00.00.A01"]).add == acl_plan([]).add  # a disabled agency adds nothing
