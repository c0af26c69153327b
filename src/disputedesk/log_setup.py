"""Logging: structlog for the desk's own events, and every stdlib logger (uvicorn, SQLAlchemy,
httpx, the desk's ``logging`` users) routed through the same processors, so secrets are scrubbed
from every line the process writes.

Secrets are removed twice over: by key (any field whose name says key, secret, password, token or
authorization) and by shape (Stripe keys ``sk_``/``rk_``, webhook secrets ``whsec_``, the desk's
``ddk_`` API tokens, bearer tokens, passwords in URLs, one-time sign-in links), wherever they
appear in a value, so a secret pasted into an error message is masked too. httpx's per-request
INFO lines are silenced: they carry full URLs (a Slack webhook URL is itself a secret).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(api_?key|secret|password|passwd|token|authorization|cookie)", re.I)
_SECRET_VALUES = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{4,}"
    r"|\bwhsec_[A-Za-z0-9+/=]{4,}"
    r"|\bddk_[A-Za-z0-9_\-]{8,}"
    r"|(?<=Bearer )[^\s\"']+"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"  # user:password@ in a URL
    r"|(?<=/login/link/)[A-Za-z0-9_\-]+"  # one-time sign-in links
    r"|(?<=hooks\.slack\.com/services/)\S+"
)
MASK = "[redacted]"
QUIET_LOGGERS = ("httpx", "httpcore", "hpack")


def scrub(value: Any) -> Any:
    """Mask secrets inside a value (strings, and dicts/lists of them)."""
    if isinstance(value, str):
        return _SECRET_VALUES.sub(MASK, value)
    if isinstance(value, dict):
        return {k: (MASK if _SECRET_KEYS.search(str(k)) else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v) for v in value)
    return value


def _scrub_processor(_logger: Any, _name: str, event_dict: dict) -> dict:
    return scrub(event_dict)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the write (it may be replaced)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO", *, json_output: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process.

    JSON lines when stderr is not a terminal (servers, containers), readable text otherwise.
    """
    if json_output is None:
        json_output = not sys.stderr.isatty()
    renderer: Any = (structlog.processors.JSONRenderer() if json_output
                     else structlog.dev.ConsoleRenderer(colors=False))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_processor,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn may have given its loggers their own handlers (an earlier server in the process):
    # send them through the scrubber like everything else.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.disabled = False
        logger.setLevel(logging.NOTSET)
