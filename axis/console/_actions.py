"""What an operator can do from the console; each is a CSRF-checked POST, refused to viewers, and recorded
in the ledger under the operator's name (an `operator` event, published as a fact on `edx.events`).

- requeue a dead letter (`Ledger.request_requeue`, which records the action itself; the router publishes it
  again under a new message id);
- add (or re-enable) an agency in the directory, with a PEM certificate or one issued by the dev PKI;
- disable an agency;
- download a document's evidence bundle (`axis.proof.EvidenceDesk`, as `axis evidence` makes it).
The running router notices directory changes and publishes `edx.directory`. After an action the browser
is sent back to the list with a message (POST, redirect, GET); a JSON client gets `{"done", "message"}`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from axis.bootstrap import evidence_desk
from axis.errors import LedgerError, ProofError
from axis.proof import bundle_filename
from signing import DevPki

from ._auth import checked_form, operator
from ._render import wants_json
from ._session import flash
from ._state import state_of
from ._users import ConsoleUser

__all__ = ["router"]

router = APIRouter()


def _done(request: Request, back: str, done: bool, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"done": done, "message": message}, status_code=200 if done else 409)
    flash(request.session, "ok" if done else "error", message)
    return RedirectResponse(back, status_code=303)


@router.post("/dead-letters/requeue")
async def requeue(request: Request, user: Annotated[ConsoleUser, operator("requeue")],
                  form: Annotated[FormData, Depends(checked_form)]) -> Response:
    message_id = str(form.get("message_id", ""))
    done = await state_of(request).ledger.request_requeue(message_id, user.name)
    message = (f"{message_id} will be judged again under a new message id." if done
               else f"{message_id} was not requeued: unknown, without headers, or already requeued.")
    return _done(request, "/dead-letters", done, message)


@router.post("/directory/add")
async def add_agency(request: Request, user: Annotated[ConsoleUser, operator("adding an agency")],
                     form: Annotated[FormData, Depends(checked_form)]) -> Response:
    state = state_of(request)
    organ_id, name = _field(form, "organ_id"), _field(form, "name")
    parent_id, email, pem = _field(form, "parent_id") or None, _field(form, "email"), _field(form, "certificate")
    if not organ_id or not name:
        return _done(request, "/directory", False, "An agency needs an organ id and a name.")
    certificates = [pem] if pem else []
    if not certificates and form.get("issue_certificate") and DevPki(state.settings.pki_dir).ca_path.exists():
        _, cert_path = await asyncio.to_thread(DevPki(state.settings.pki_dir).issue, organ_id, name)
        certificates = [cert_path.read_text()]
    try:
        agency = await state.ledger.directory.add(organ_id, name, parent_id=parent_id, email=email,
                                                  certificates=certificates, at=state.clock())
    except LedgerError as exc:
        return _done(request, "/directory", False, f"{organ_id} was not added: {exc}")
    await state.ledger.record_operator_action(
        user.name, "agency-add", organ_id,
        {"name": name, "parent_id": parent_id, "email": email, "fingerprints": list(agency.fingerprints)})
    certs = f"{len(agency.fingerprints)} certificate(s)" if agency.fingerprints else "no certificate yet"
    return _done(request, "/directory", True, f"{organ_id} {name} is in the directory, active, with {certs}.")


@router.post("/directory/disable")
async def disable_agency(request: Request, user: Annotated[ConsoleUser, operator("disabling an agency")],
                         form: Annotated[FormData, Depends(checked_form)]) -> Response:
    state = state_of(request)
    organ_id = _field(form, "organ_id")
    try:
        await state.ledger.directory.disable(organ_id, at=state.clock())
    except LedgerError as exc:
        return _done(request, "/directory", False, f"{organ_id} was not disabled: {exc}")
    await state.ledger.record_operator_action(user.name, "agency-disable", organ_id, {})
    return _done(request, "/directory", True, f"{organ_id} is disabled: nothing is routed from or to it.")


@router.post("/documents/evidence")
async def evidence(request: Request, user: Annotated[ConsoleUser, operator("an evidence bundle")],
                   form: Annotated[FormData, Depends(checked_form)]) -> Response:
    state = state_of(request)
    document_id, sender = _field(form, "document_id"), _field(form, "sender") or None
    try:
        desk = evidence_desk(state.settings, state.ledger, clock=state.clock)
        bundle = await desk.bundle(document_id, sender=sender)
    except ProofError as exc:
        return _done(request, "/documents/" + quote(document_id, safe="/,"), False, f"No evidence bundle: {exc}")
    await state.ledger.record_operator_action(user.name, "evidence", document_id,
                                              {"sender": sender, "bytes": len(bundle)})
    return Response(bundle, media_type="application/zip",
                    headers={"content-disposition": f'attachment; filename="{bundle_filename(document_id)}"'})


def _field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()
