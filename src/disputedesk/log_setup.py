"""Structured logging (structlog) with secrets scrubbed before anything is written.

Secrets are removed twice over: by key (any field whose name says key, secret, password, token or
authorization) and by shape (Stripe keys ``sk_``/``rk_``, webhook secrets ``whsec_``, bearer
tokens) wherever they appear in a value, so a secret pasted into an error message is masked too.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(api_?key|secret|password|passwd|token|authorization|cookie)", re.I)
_SECRET_VALUES = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{4,}|\bwhsec_[A-Za-z0-9+/=]{4,}|(?<=Bearer )[^\s\"']+"
)
MASK = "[redacted]"


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


def configure_logging(level: str = "INFO", *, json_output: bool | None = None) -> None:
    """Configure structlog once per process; JSON when not on a terminal (servers), text otherwise."""
    if json_output is None:
        json_output = not sys.stderr.isatty()
    renderer: Any = (structlog.processors.JSONRenderer() if json_output
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
