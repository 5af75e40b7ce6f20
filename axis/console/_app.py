"""`create_console_app`: the console's ASGI app (FastAPI, Jinja templates, no JavaScript build).

The app holds no resource of its own: it reads through a started `Ledger` it is given and a receipts
projection that its owner (`Console`) keeps up to date, so tests run it in process with
`httpx.ASGITransport` exactly as `axis up` serves it. Errors become pages (or JSON): sign-in needed (303 to
`/login`, JSON: 401), a refused action or a stale form (403), a bad request (400), the ledger unreachable
(503).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from axis.bootstrap import work_calendar
from axis.errors import ConsoleError, LedgerError
from axis.ledger import Clock, Ledger, utc_now
from axis.settings import Settings

from . import _actions, _auth, _pages
from ._auth import CsrfMismatch, NotAllowed, SignInFirst
from ._health import Probe
from ._receipts import OpenReceipts
from ._render import build_templates, page, wants_json
from ._session import COOKIE, MAX_AGE_S, console_secret
from ._state import ConsoleState, state_of
from ._users import ConsoleUsers

__all__ = ["create_console_app"]


def create_console_app(
    settings: Settings, ledger: Ledger, *, probes: Mapping[str, Probe] | None = None, clock: Clock = utc_now,
    page_size: int = 50,
) -> FastAPI:
    """The console over a started `ledger`; `probes` name the components whose health the overview shows."""
    app = FastAPI(title="axis console", docs_url=None, redoc_url=None, openapi_url=None)
    receipts = OpenReceipts(ledger.pool, calendar=work_calendar(settings),
                            arrival_deadline=timedelta(seconds=settings.arrival_deadline_s), clock=clock)
    app.state.console = ConsoleState(settings, ledger, ConsoleUsers(ledger.pool), receipts, dict(probes or {}),
                                     clock, page_size)
    app.state.templates = build_templates(settings.tz)
    app.add_middleware(SessionMiddleware, secret_key=console_secret(settings), session_cookie=COOKIE,
                       max_age=MAX_AGE_S, same_site="lax", https_only=False)
    app.mount("/static", StaticFiles(directory=str(resources.files("axis.console").joinpath("static"))),
              name="static")
    app.include_router(_auth.router)
    app.include_router(_pages.router)
    app.include_router(_actions.router)
    app.add_api_route("/health", _health, methods=["GET"])
    app.add_exception_handler(SignInFirst, _sign_in_first)  # type: ignore[arg-type]
    app.add_exception_handler(NotAllowed, _not_allowed)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfMismatch, _csrf_mismatch)  # type: ignore[arg-type]
    app.add_exception_handler(ConsoleError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(LedgerError, _ledger_error)  # type: ignore[arg-type]
    return app


async def _health(request: Request) -> Response:
    """The console's own health, for monitoring (no sign-in): the ledger answers, how far receipts are read."""
    receipts = state_of(request).receipts
    try:
        lag = await receipts.lag()
    except LedgerError as exc:
        return JSONResponse({"status": "unhealthy", "ledger": str(exc)}, status_code=503)
    report = {"status": "degraded" if receipts.last_error else "ok", "receipts_seq": lag.seq,
              "receipts_behind": lag.behind, "receipts_error": receipts.last_error}
    return JSONResponse(report, status_code=200 if receipts.last_error is None else 503)


async def _sign_in_first(request: Request, exc: SignInFirst) -> Response:
    if wants_json(request):
        return JSONResponse({"error": "sign-in", "detail": "sign in at /login first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
    return page(request, "error.html", {"error": "not-allowed", "title": "Refused", "detail": str(exc)},
                status_code=403)


async def _csrf_mismatch(request: Request, exc: CsrfMismatch) -> Response:
    return page(request, "error.html", {
        "error": "csrf", "title": "Form expired",
        "detail": "This form does not belong to your current session. Reload the page and try again.",
    }, status_code=403)


async def _bad_request(request: Request, exc: ConsoleError) -> Response:
    return page(request, "error.html", {"error": "bad-request", "title": "Bad request", "detail": str(exc)},
                status_code=400)


async def _ledger_error(request: Request, exc: LedgerError) -> Response:
    status = 503 if exc.retriable else 500
    return page(request, "error.html", {"error": "ledger", "title": "The ledger did not answer",
                                        "detail": str(exc)}, status_code=status)
