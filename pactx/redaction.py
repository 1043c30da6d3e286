"""Keep secrets out of logs, reports and exception messages.

Every API key pactx is given is registered here. :func:`redact` replaces registered secrets
(and anything shaped like a bearer token) in a string, and a log-record factory installed on
first registration redacts every log message, whichever library logs it.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["register_secret", "redact"]

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_INSTALLED = False
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_MIN_SECRET_LENGTH = 4


def register_secret(secret: str | None) -> None:
    """Remember a secret so that it is redacted wherever pactx or a library prints it."""
    global _INSTALLED
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return
    with _LOCK:
        _SECRETS.add(secret)
        if not _INSTALLED:
            _install_log_filter()
            _INSTALLED = True


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and bearer token replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)


def _install_log_filter() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
