"""`axis edxml ...`: validate, show and build EDXML packages."""

from __future__ import annotations

import json
import sys
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import click

from edxml import (
    DEFAULT_MAX_BYTES,
    Attachment,
    Code,
    DocumentPackage,
    DocumentType,
    EdxmlError,
    Issue,
    Organization,
    OtherInfo,
    Profile,
    SignerInfo,
    StaffInfo,
    StatusPackage,
    ValidationReport,
    build_document,
    parse_package,
    serialize,
    validate,
)

_PROFILE = click.Choice(["strict", "lenient"])


@click.group()
def edxml() -> None:
    """Validate, inspect and build EDXML packages."""


def _check_file(path: Path, profile: Profile, max_bytes: int) -> ValidationReport:
    """Validate one file, refusing oversized ones before reading them."""
    size = path.stat().st_size
    if size > max_bytes:
        report = ValidationReport(str(path))
        report.errors.append(Issue(str(path), None, f"package is {size} bytes, over the limit of {max_bytes}"))
        return report
    return validate(path.read_bytes(), profile=profile, source=str(path), max_bytes=max_bytes)


@edxml.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", type=_PROFILE, default="strict", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.option("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, show_default=True)
def validate_cmd(files: tuple[Path, ...], profile: Profile, as_json: bool, max_bytes: int) -> None:
    """Check packages; exit 1 if any is invalid. Problems print as FILE:LINE: problem."""
    invalid = 0
    for path in files:
        report = _check_file(path, profile, max_bytes)
        invalid += not report.ok
        if as_json:
            click.echo(json.dumps(_report_json(report), ensure_ascii=False))
            continue
        for issue in report.errors:
            click.echo(f"{issue.source}:{issue.line or '?'}: error: {issue.message}")
        for issue in report.warnings:
            click.echo(f"{issue.source}:{issue.line or '?'}: warning: {issue.message}")
        click.echo(f"{path}: {'valid' if report.ok else 'INVALID'} ({profile})")
    sys.exit(1 if invalid else 0)


@edxml.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", type=_PROFILE, default="lenient", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The parsed fields as one JSON object.")
@click.option("--extract", type=click.Path(file_okay=False, path_type=Path), help="Write the attachments into DIR.")
def show_cmd(file: Path, profile: Profile, as_json: bool, extract: Path | None) -> None:
    """Print the parsed fields of a package (and optionally extract its attachments)."""
    try:
        pkg = parse_package(file.read_bytes(), profile=profile, source=str(file))
    except EdxmlError as exc:
        raise click.ClickException(str(exc)) from exc
    data = to_jsonable(pkg)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_tree(data)
    if extract is not None and isinstance(pkg, DocumentPackage):
        for attachment, target in zip(pkg.attachments, _targets(extract, pkg.attachments), strict=True):
            with target.open("wb") as out:
                size = attachment.write_to(out)
            click.echo(f"wrote {target} ({size} bytes)", err=as_json)


def _targets(directory: Path, attachments: list[Attachment]) -> list[Path]:
    """Safe, distinct file names inside `directory`: names from foreign packages cannot escape it."""
    directory.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    out = []
    for i, attachment in enumerate(attachments, 1):
        name = attachment.name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if name in ("", ".", "..") or name.startswith("."):
            name = f"attachment-{i}{name if name.startswith('.') and len(name) > 1 else ''}"
        while name in taken:
            name = f"{i}-{name}"
        taken.add(name)
        out.append(directory / name)
    return out


@edxml.command("new")
@click.option("--from-json", "from_json", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fields as JSON (keys as in `show --json`); options given here override them.")  # fmt: skip
@click.option("--from", "sender", help="Sender organ id.")
@click.option("--from-name", help="Sender organ name.")
@click.option("--to", "recipients", multiple=True, help="Recipient as ORGAN_ID=NAME (repeatable).")
@click.option("--code-number")
@click.option("--code-notation")
@click.option("--subject")
@click.option("--date", "promulgation_date", help="Promulgation date yyyy/MM/dd (default today).")
@click.option("--steering-type", type=int)
@click.option("--attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output.")
def new_cmd(from_json: Path | None, output: Path | None, attach: tuple[Path, ...], **options: Any) -> None:
    """Build a document package; it must pass the strict profile before it is written."""
    spec: dict[str, Any] = json.loads(from_json.read_text("utf-8")) if from_json else {}
    try:
        pkg = build_document(**_document_args(spec, options, from_json.parent if from_json else Path(), attach))
    except (KeyError, TypeError, ValueError) as exc:
        raise click.UsageError(f"cannot build the package: {exc!r}") from exc
    data = serialize(pkg)
    report = validate(data, profile="strict", source=str(output or "<new>"))
    for issue in report.errors:
        click.echo(f"error: {issue.message}", err=True)
    if not report.ok:
        sys.exit(1)
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"wrote {output}: {pkg.document_id}", err=True)


def _document_args(spec: dict[str, Any], options: dict[str, Any], base: Path, attach: tuple[Path, ...]) -> dict[str, Any]:
    """Keyword arguments for `build_document` from the JSON spec with the command-line options on top."""
    sender = spec.get("sender") or spec.get("from_") or {}
    if options["sender"]:
        sender = {**sender, "organ_id": options["sender"]}
    if options["from_name"]:
        sender = {**sender, "organ_name": options["from_name"]}
    recipients = [dict(zip(("organ_id", "organ_name"), t.split("=", 1), strict=False)) for t in options["recipients"]]
    code = spec.get("code", {})
    args: dict[str, Any] = {
        "sender": Organization(**sender),
        "recipients": [Organization(**r) for r in recipients or spec.get("recipients") or spec.get("to", [])],
        "code": Code(options["code_number"] or code["code_number"], options["code_notation"] or code["code_notation"]),
        "subject": options["subject"] or spec["subject"],
        "attachments": [base / p for p in spec.get("attachments", [])] + list(attach),
    }
    when = options["promulgation_date"] or spec.get("promulgation_date")
    if when:
        args["promulgation_date"] = datetime.strptime(when, "%Y/%m/%d").date()
    if options["steering_type"] is not None or "steering_type" in spec:
        args["steering_type"] = options["steering_type"] if options["steering_type"] is not None else spec["steering_type"]
    nested = {"document_type": DocumentType, "signer": SignerInfo, "staff": StaffInfo}
    args |= {key: cls(**spec[key]) for key, cls in nested.items() if key in spec}
    if "other" in spec:
        args["other"] = OtherInfo(**{**spec["other"], "appendixes": tuple(spec["other"].get("appendixes", ()))})
    args |= {key: spec[key] for key in ("place", "content", "reason", "document_id") if key in spec}
    args |= {key: tuple(spec[key]) for key in ("to_places",) if key in spec}
    return args


def to_jsonable(value: Any) -> Any:
    """Plain JSON values for the model: dates as the package writes them, enums by value."""
    if isinstance(value, Attachment):
        return {"content_id": value.content_id, "name": value.name, "content_type": value.content_type,
                "description": value.description}  # fmt: skip
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, DocumentPackage | StatusPackage):
            out = {"kind": value.kind, "sender": value.sender, "recipients": list(value.recipients),
                   "document_id": value.document_id, **out}  # fmt: skip
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, date):
        return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _print_tree(data: Any, indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in data.items():
        if value in ("", None, [], {}):
            continue
        if isinstance(value, dict):
            click.echo(f"{pad}{key}:")
            _print_tree(value, indent + 1)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                click.echo(f"{pad}{key}:")
                _print_tree(item, indent + 1)
        elif key == "xml":
            click.echo(f"{pad}{key}: ({len(value)} characters)")
        else:
            click.echo(f"{pad}{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")


def _report_json(report: ValidationReport) -> dict[str, Any]:
    def issues(items: list[Issue]) -> list[dict[str, Any]]:
        return [{"line": i.line, "message": i.message} for i in items]

    return {"file": report.source, "ok": report.ok, "errors": issues(report.errors), "warnings": issues(report.warnings)}
