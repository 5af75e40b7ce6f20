"""`axis pki ...` (the development PKI), `axis sign` and `axis verify`.

Exit codes: 0 success (for `verify`: the signature is valid), 1 the signature is invalid or a PKI
operation failed, 2 usage errors (click's own). Passphrases come from an environment variable
named on the command line, never from an argument (which would show in `ps`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, get_args

import click

from signing import (
    Algorithm,
    DevPki,
    PkiError,
    SignatureInvalid,
    Signer,
    SigningError,
    SigningIdentity,
    TrustStore,
    Verifier,
)

_DIR = click.option(
    "--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="PKI directory."
)
_ORGAN = click.option("--organ-id", required=True, help="Organ id, e.g. 000.00.00.G22.")


def _passphrase(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if value is None:
        raise click.UsageError(f"--passphrase-env {var}: the variable is not set")
    return value.encode()


@click.group()
def pki() -> None:
    """Development PKI of the embedded exchange: root CA, agency certificates, CRL."""


@pki.command("init")
@_DIR
@click.option("--algorithm", type=click.Choice(get_args(Algorithm)), default="rsa3072", show_default=True)
def pki_init(directory: Path, algorithm: Algorithm) -> None:
    """Create the root CA (DIR/ca.pem, DIR/ca-key.pem) and an empty CRL (DIR/crl.pem)."""
    try:
        created = DevPki(directory).init(algorithm=algorithm)
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'created' if created else 'kept existing'} CA {directory / 'ca.pem'}")


@pki.command("issue")
@_DIR
@_ORGAN
@click.option("--name", required=True, help="Agency name (certificate CN).")
@click.option("--algorithm", type=click.Choice(get_args(Algorithm)), default="rsa", show_default=True)
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the key with the passphrase in $VAR.")
@click.option("--valid-days", type=click.IntRange(1, 3650), default=730, show_default=True)
def pki_issue(
    directory: Path, organ_id: str, name: str, algorithm: Algorithm, passphrase_env: str | None, valid_days: int
) -> None:
    """Issue an agency certificate DIR/<organ-id>.pem and key DIR/<organ-id>-key.pem.

    The organ id goes in the subject's UID attribute. A previous certificate for the same organ
    id is kept in DIR/previous/<organ-id>.<serial>.pem and stays valid (key rotation).
    """
    try:
        key_path, cert_path = DevPki(directory).issue(
            organ_id, name, algorithm, passphrase=_passphrase(passphrase_env), valid_days=valid_days
        )
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"issued {cert_path} (key {key_path})")


@pki.command("revoke")
@_DIR
@_ORGAN
@click.option("--serial", help="Revoke only this certificate serial (hex); default: all of the organ's.")
def pki_revoke(directory: Path, organ_id: str, serial: str | None) -> None:
    """Add the organ's certificates to the CRL DIR/crl.pem."""
    try:
        number = None if serial is None else int(serial, 16)
    except ValueError as exc:
        raise click.BadParameter("not a hex serial", param_hint="--serial") from exc
    try:
        revoked = DevPki(directory).revoke(organ_id, number)
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    for s in revoked:
        click.echo(f"revoked {organ_id} serial {s:x}")


@pki.command("list")
@_DIR
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def pki_list(directory: Path, as_json: bool) -> None:
    """List agency certificates: organ id, serial, algorithm, validity, state."""
    try:
        infos = DevPki(directory).list()
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([
            {"organ_id": i.organ_id, "name": i.name, "serial": f"{i.serial:x}", "algorithm": i.algorithm,
             "not_before": i.not_before.isoformat(), "not_after": i.not_after.isoformat(),
             "current": i.current, "revoked": i.revoked, "path": str(i.path)}
            for i in infos
        ], ensure_ascii=False))
        return
    for i in infos:
        state = "revoked" if i.revoked else ("current" if i.current else "previous")
        click.echo(f"{i.organ_id}\t{i.serial:x}\t{i.algorithm}\t{i.not_after:%Y-%m-%d}\t{state}\t{i.name}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cert", "cert_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output.")
@click.option("--passphrase-env", metavar="VAR", help="The key's passphrase is in $VAR.")
def sign(file: Path, key_path: Path, cert_path: Path, output: Path | None, passphrase_env: str | None) -> None:
    """Sign an EDXML package (enveloped XMLDSig after TraceHeaderList)."""
    try:
        identity = SigningIdentity.from_files(key_path, cert_path, _passphrase(passphrase_env))
        signed = Signer(identity).sign(file.read_bytes())
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(signed, nl=False)  # bytes go to the binary stream untouched
    else:
        output.write_bytes(signed)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust_paths", required=True, multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Trusted CA (PEM); repeatable.")
@click.option("--crl", "crl_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CRL; repeatable.")
@click.option("--expect-organ-id", help="Default: the package's From/OrganId.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(
    file: Path, trust_paths: tuple[Path, ...], crl_paths: tuple[Path, ...], expect_organ_id: str | None, as_json: bool
) -> None:
    """Verify a package's signature; exit 0 only when it is valid."""
    try:
        verifier = Verifier(TrustStore.from_files(trust_paths, crl_paths))
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    result: dict[str, Any]
    try:
        signed = verifier.verify(file.read_bytes(), expected_organ_id=expect_organ_id)
    except SignatureInvalid as exc:
        result = {"valid": False, "signer": None, "algorithm": None, "fingerprint_sha256": None,
                  "reason": exc.reason, "message": exc.message}
    else:
        result = {"valid": True, "signer": signed.organ_id, "algorithm": signed.algorithm,
                  "fingerprint_sha256": signed.fingerprint_sha256, "reason": None, "message": "valid"}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    elif result["valid"]:
        click.echo(f"{file}: valid, signed by {result['signer']} ({result['algorithm']})")
    else:
        click.echo(f"{file}: INVALID ({result['reason']}): {result['message']}", err=True)
    if not result["valid"]:
        raise SystemExit(1)


__all__ = ["pki", "sign", "verify"]
