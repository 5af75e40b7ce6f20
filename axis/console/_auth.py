"""Signing in and out, and the guards every view goes through.

- `signed_in`: the session's user, loaded afresh from `console_users` on each request (a removed account or
  a new password ends the session at once); otherwise the browser is sent to `/login` (JSON clients: 401).
- `checked_form`: the POSTed form, refused (403) unless its `csrf_token` matches the session's.
- `operator`: a signed-in operator; a viewer is refused (403) with what was refused and why.
Sign-ins and sign-outs are recorded in the ledger as operator actions (`login`, `logout`).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from ._render import page
from ._session import csrf_matches, csrf_token
from ._state import state_of
from ._users import ConsoleUser

__all__ = ["CsrfMismatch", "NotAllowed", "SignInFirst", "checked_form", "operator", "router", "signed_in"]

_log = logging.getLogger(__name__)
router = APIRouter()


class SignInFirst(Exception):
    """The request has no valid session: the browser goes to the sign-in form."""


class NotAllowed(Exception):
    """A viewer asked for an operator's action."""

    def __init__(self, user: ConsoleUser, action: str) -> None:
        super().__init__(f"{action} needs the operator role; {user.name} is a {user.role}")
        self.user = user
        self.action = action


class CsrfMismatch(Exception):
    """A POST whose form token is missing or not this session's (a stale page, or another site's form)."""


async def signed_in(request: Request) -> ConsoleUser:
    name = request.session.get("user")
    user = await state_of(request).users.get(name) if isinstance(name, str) else None
    if user is None or request.session.get("stamp") != user.session_stamp:
        request.session.pop("user", None)
        request.session.pop("stamp", None)
        raise SignInFirst()
    request.state.user = user
    return user


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    if not csrf_matches(request.session, form.get("csrf_token")):
        raise CsrfMismatch()
    return form


def operator(action: str) -> Any:
    """A guard for one action: the signed-in user must be an operator."""

    async def guard(user: Annotated[ConsoleUser, Depends(signed_in)],
                    form: Annotated[FormData, Depends(checked_form)]) -> ConsoleUser:
        if not user.may_act:
            _log.warning("console: %s (%s) was refused %s", user.name, user.role, action)
            raise NotAllowed(user, action)
        return user

    return Depends(guard)


def _local_path(target: object) -> str:
    """Where to go after signing in: only a path of this site (never `//host` or a full URL)."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    csrf_token(request.session)
    return page(request, "login.html", {"next": _local_path(next), "error": None})


@router.post("/login")
async def login(request: Request, form: Annotated[FormData, Depends(checked_form)]) -> Response:
    state = state_of(request)
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    target = _local_path(form.get("next"))
    user = await state.users.authenticate(name, password)
    if user is None:
        _log.warning("console: failed sign-in as %r", name)
        return page(request, "login.html", {"next": target, "error": "Wrong user name or password."},
                    status_code=401)
    request.session.clear()  # a new session: fresh CSRF token, nothing carried over from before sign-in
    request.session.update(user=user.name, stamp=user.session_stamp)
    csrf_token(request.session)
    await state.ledger.record_operator_action(user.name, "login", user.name, {"role": user.role})
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, user: Annotated[ConsoleUser, Depends(signed_in)],
                 form: Annotated[FormData, Depends(checked_form)]) -> Response:
    await state_of(request).ledger.record_operator_action(user.name, "logout", user.name, {})
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
