"""One view, two forms: every page renders its data with a Jinja template, or returns the same data as JSON
when asked with `?format=json` or `Accept: application/json` (like Datasette's `.json`).

The data a view hands over is plain (str, int, float, None, lists, dicts, datetimes); the HTML adds only
what a person needs around it (who is signed in, the CSRF token for forms, messages after an action).
"""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from edxml import StatusCode

from ._session import csrf_token, pop_flashes

__all__ = ["STATUS_NAMES", "build_templates", "page", "wants_json"]

STATUS_NAMES = {code.value: code.name.lower().replace("_", " ") for code in StatusCode}


def wants_json(request: Request) -> bool:
    """`?format=json`, or an Accept header that prefers JSON over HTML."""
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _seconds(value: float | None) -> str:
    """12 s, 3 min 04 s, 2 h 05 min: durations as an operator reads them."""
    if value is None:
        return "—"
    total = round(value)
    if total < 60:
        return f"{value:.1f} s" if value < 10 else f"{total} s"
    minutes, seconds = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def build_templates(tz: tzinfo) -> Jinja2Templates:
    """The console's templates (autoescaped) with its filters: local times, durations, document links."""
    directory = Path(str(resources.files("axis.console").joinpath("templates")))
    templates = Jinja2Templates(directory=directory)

    def when(value: datetime | str | None) -> str:
        if value is None or value == "":
            return "—"
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    templates.env.filters.update(
        when=when,
        seconds=_seconds,
        percent=lambda rate: "—" if rate is None else f"{rate * 100:.1f} %",
        docurl=lambda document_id: "/documents/" + quote(document_id, safe="/,"),
        status_name=lambda code: STATUS_NAMES.get(code, ""),
        count=lambda n, over=0: f"{n:,}" if n is not None else f"more than {over:,}" if over else "many",
    )
    templates.env.globals["query"] = lambda **params: "?" + urlencode({k: v for k, v in params.items() if v})
    return templates


def page(request: Request, template: str, data: dict[str, Any], *, status_code: int = 200) -> Response:
    """Render `data` as the page, or as JSON for a client that asked for JSON."""
    if wants_json(request):
        return JSONResponse(json.loads(json.dumps(data, default=_plain, ensure_ascii=False)), status_code=status_code)
    templates: Jinja2Templates = request.app.state.templates
    chrome = {
        "user": getattr(request.state, "user", None),
        "csrf": csrf_token(request.session),
        "flashes": pop_flashes(request.session),
    }
    return templates.TemplateResponse(request, template, {**data, **chrome}, status_code=status_code)
