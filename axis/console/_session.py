"""What the console keeps in its signed session cookie, and the secret that signs it.

The cookie (Starlette's SessionMiddleware: itsdangerous-signed, SameSite=Lax, HttpOnly, 8 hours) holds the
user's name, a stamp of their password hash (a new password or a removed account ends the session), a
CSRF token, and messages to show after an action. It is signed, not encrypted: it holds no secret.

CSRF: every form carries the session's token in a hidden field and every POST is refused unless it matches
(compared in constant time). SameSite=Lax already keeps the cookie off cross-site POSTs; the token also
covers browsers and proxies that do not honour it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from axis.errors import SettingsError
from axis.settings import Settings

__all__ = [
    "COOKIE",
    "MAX_AGE_S",
    "SECRET_FILE",
    "console_secret",
    "csrf_matches",
    "csrf_token",
    "flash",
    "pop_flashes",
]

COOKIE = "axis_console"
MAX_AGE_S = 8 * 3600
SECRET_FILE = "console-secret"


def console_secret(settings: Settings) -> str:
    """`console_secret` when set, else `<data_dir>/console-secret`, made once (mode 0600) and kept, so
    sessions survive a restart and every console of one data folder signs alike."""
    if settings.console_secret is not None:
        return settings.console_secret.get_secret_value()
    path = Path(settings.data_dir) / SECRET_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SettingsError(f"cannot create {path} ({exc.strerror}); set AXIS_CONSOLE_SECRET instead") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48))
    try:
        secret = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path} ({exc}); remove it to make a new one") from exc
    if len(secret) < 32:
        raise SettingsError(f"{path} holds fewer than 32 characters; remove it to make a new one")
    return secret


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_matches(session: dict[str, Any], submitted: object) -> bool:
    token = session.get("csrf")
    return isinstance(token, str) and isinstance(submitted, str) and hmac.compare_digest(token, submitted)


def flash(session: dict[str, Any], kind: str, text: str) -> None:
    """A message for the next page this session sees (`ok` or `error`)."""
    session["flash"] = [*session.get("flash", []), [kind, text]]


def pop_flashes(session: dict[str, Any]) -> list[list[str]]:
    return list(session.pop("flash", []))
