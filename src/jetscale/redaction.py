"""Secrets never reach a results file or a log: values of secret-named environment variables are redacted.

* :func:`redact_secrets` scrubs a config before it is written (metrics.json, checkpoint identities);
* :func:`guard_output` scrubs everything a jetscale process prints or logs from then on: ``sys.stdout``,
  ``sys.stderr`` (tracebacks included, e.g. a library's error message that quotes a bad config value)
  and every log record, whatever handler writes it (Hydra's ``train.log`` among them).

(Not named `secrets.py`: Lightning reruns train.py as a script for each DDP rank, which puts this package
first on sys.path, where it would shadow the standard library's `secrets`.)"""

from __future__ import annotations

import io
import logging
import os
import re
import sys

log = logging.getLogger(__name__)
# Environment variables whose values never reach a results file: API keys, tokens, passwords.
SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL", re.IGNORECASE)
REDACTED = "<redacted>"


def secret_values(environ=os.environ) -> dict[str, str]:
    """name -> value of every secret-named environment variable with a value of 8 or more characters."""
    return {name: value for name, value in environ.items() if SECRET_ENV.search(name) and len(value) >= 8}


def redact_text(text: str, secrets: dict[str, str]) -> str:
    for secret in secrets.values():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_secrets(config: dict, environ=os.environ, quiet: bool = False) -> dict:
    """``config`` with the value of every secret environment variable (:func:`secret_values`) replaced by
    ``<redacted>`` wherever it occurs, e.g. where an ``${oc.env:...}`` interpolation resolved to it."""
    secrets = secret_values(environ)

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for name, secret in secrets.items():
                if secret in value:
                    if not quiet:
                        log.warning("the config holds the value of $%s: written to metrics.json as <redacted>", name)
                    value = value.replace(secret, REDACTED)
        return value

    return scrub(config)


class RedactingStream(io.TextIOBase):
    """A text stream that writes through to ``stream`` with the secrets replaced."""

    def __init__(self, stream, secrets: dict[str, str]):
        self.stream, self.secrets = stream, secrets

    def write(self, text: str) -> int:
        self.stream.write(redact_text(text, self.secrets))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name):  # encoding, buffer, errors, ...: the wrapped stream's
        return getattr(self.stream, name)


def guard_output(environ=os.environ) -> None:
    """From now on, redact the secrets of ``environ`` from this process's stdout, stderr and log records."""
    secrets = secret_values(environ)
    if not secrets:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream, secrets))
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacting_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.msg, record.args = redact_text(record.getMessage(), secrets), ()
        if record.exc_info:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), secrets)
        return record

    redacting_record.redacts = True
    logging.setLogRecordFactory(redacting_record)
