#!/usr/bin/env python3
"""Development secrets for deploy/docker-compose.yml and deploy/k8s, written to deploy/secrets/ (gitignored).

    .venv/bin/python deploy/make-dev-secrets.py [--agency 000.00.00.G22 ...] [--out deploy/secrets]

Run it again with another --agency to add that agency's Kafka user: what exists is kept (the CA, the
passwords in credentials.json), what is missing is added, the derived files are written anew.

- ca/ca.pem, ca/ca-key.pem: the CA of the brokers' TLS certificates (the key stays here, never mounted).
- kafka/ (mounted at /etc/kafka/secrets in the brokers): ca.pem; kafka-N.keystore.p12 (compose brokers,
  SANs kafka-N and localhost) and kafka-k8s.keystore.p12 (the StatefulSet's pods); keystore_creds (their
  password); kafka_server_jaas.conf (SASL/PLAIN for the brokers themselves and the `admin` super user, SASL/PLAIN);
  admin.properties (the `admin` client settings for kafka-configs.sh and kafka-acls.sh);
  create-scram-users.sh (the SCRAM-SHA-512 users: axis-router, axis-stats, agent.<organ-id>).
- env/*.env: the AXIS_* credentials of each axis service (router, stats, console, admin, agent-<organ-id>).
- postgres_password.

Development only: one CA on one disk, passwords in files. Production: see "Running in production".
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import secrets
import shlex
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKERS = ("kafka-1", "kafka-2", "kafka-3")
K8S_SERVICE = "kafka"  # the headless Service of the StatefulSet in deploy/k8s/base/kafka.yaml
DATABASE = "postgresql://axis:{password}@postgres:5432/axis"
VALID_DAYS = 825


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write a file with `mode`. Broker files are 0644: the Kafka image runs as another user than yours."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def _ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SystemExit(f"{key_path}: not the EC key this script makes")
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "axis development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "axis Kafka development CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    return cert, key


def _broker_keystore(name: str, dns_names: list[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                     password: str) -> bytes:
    """A PKCS#12 keystore (key and chain) for one broker; it is client too, to the other brokers."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName(d) for d in dns_names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca],
                                                 serialization.BestAvailableEncryption(password.encode()))


def _credentials(path: Path, users: list[str]) -> dict[str, str]:
    """Passwords by user, kept across runs; new users get a new random password."""
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for user in users:
        known.setdefault(user, secrets.token_urlsafe(24))
    _write(path, json.dumps(known, indent=2) + "\n", 0o600)
    return known


def _env(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agency", action="append", default=[], metavar="ORGAN_ID",
                        help="an agency whose agent gets a Kafka user (repeatable; default 000.00.00.G22)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "secrets")
    parser.add_argument("--k8s-namespace", default="axis", help="the namespace of deploy/k8s (broker certificate)")
    args = parser.parse_args()
    out: Path = args.out
    agencies = args.agency or ["000.00.00.G22"]
    scram_users = ["axis-router", "axis-stats", *(f"agent.{a}" for a in agencies)]
    known = _credentials(out / "credentials.json",
                         ["postgres", "keystore", "broker", "admin", "console-secret", *scram_users])

    ca, ca_key = _ca(out / "ca")
    kafka = out / "kafka"
    _write(kafka / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    _write(kafka / "keystore_creds", known["keystore"] + "\n")
    for broker in BROKERS:
        _write(kafka / f"{broker}.keystore.p12", _broker_keystore(broker, [broker, "localhost"], ca, ca_key,
                                                                 known["keystore"]))
    namespace = args.k8s_namespace
    k8s_names = [f"*.{K8S_SERVICE}", f"*.{K8S_SERVICE}.{namespace}.svc", f"*.{K8S_SERVICE}.{namespace}.svc.cluster.local"]
    _write(kafka / "kafka-k8s.keystore.p12", _broker_keystore("kafka", k8s_names, ca, ca_key, known["keystore"]))
    _write(kafka / "kafka_server_jaas.conf", (
        "KafkaServer {\n"
        "  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        f'  username="broker" password="{known["broker"]}"\n'
        f'  user_broker="{known["broker"]}"\n'
        f'  user_admin="{known["admin"]}";\n'
        "};\n"))
    _write(kafka / "admin.properties", (
        "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{known["admin"]}";\n'
        "ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/secrets/ca.pem\n"))
    commands = [
        "kafka-configs.sh --bootstrap-server \"${BOOTSTRAP:-kafka-1:19092}\" "
        "--command-config /etc/kafka/secrets/admin.properties --alter --entity-type users "
        f"--entity-name {shlex.quote(user)} --add-config {shlex.quote(f'SCRAM-SHA-512=[password={known[user]}]')}"
        for user in scram_users
    ]
    _write(kafka / "create-scram-users.sh", (
        "#!/bin/bash\n# The SCRAM-SHA-512 users of the axis services (made by deploy/make-dev-secrets.py).\n"
        "set -e\nexport PATH=\"/opt/kafka/bin:$PATH\"\n"
        "for attempt in $(seq 60); do  # the brokers may still be starting\n"
        "  kafka-broker-api-versions.sh --bootstrap-server \"${BOOTSTRAP:-kafka-1:19092}\" "
        "--command-config /etc/kafka/secrets/admin.properties >/dev/null 2>&1 && break\n  sleep 5\ndone\n"
        + "\n".join(commands) + "\n"), 0o755)

    _write(out / "postgres_password", known["postgres"] + "\n")
    database = DATABASE.format(password=known["postgres"])
    env = out / "env"
    for user in scram_users:
        service = user.replace("axis-", "").replace("agent.", "agent-")
        values = {"AXIS_KAFKA_SASL_USERNAME": user, "AXIS_KAFKA_SASL_PASSWORD": known[user]}
        if not user.startswith("agent."):
            values["AXIS_DATABASE_URL"] = database
        _write(env / f"{service}.env", _env(values), 0o600)
    _write(env / "console.env", _env({"AXIS_DATABASE_URL": database,
                                      "AXIS_CONSOLE_SECRET": known["console-secret"]}), 0o600)
    _write(env / "admin.env", _env({"AXIS_DATABASE_URL": database, "AXIS_KAFKA_SASL_MECHANISM": "PLAIN",
                                    "AXIS_KAFKA_SASL_USERNAME": "admin",
                                    "AXIS_KAFKA_SASL_PASSWORD": known["admin"]}), 0o600)
    print(f"development secrets in {out}: Kafka users {', '.join(scram_users)} and admin")


if __name__ == "__main__":
    main()
