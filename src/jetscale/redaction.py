"""Secrets never reach a results file: values of secret-named environment variables are redacted.

(Not named `secrets.py`: Lightning reruns train.py as a script for each DDP rank, which puts this package
first on sys.path, where it would shadow the standard library's `secrets`.)"""

from __future__ import annotations

import logging
import os
import re

log = logging.getLogger(__name__)
# Environment variables whose values never reach a results file: API keys, tokens, passwords.
SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL", re.IGNORECASE)


def redact_secrets(config: dict, environ=os.environ) -> dict:
    """``config`` with the value of every secret environment variable (named like SECRET_ENV, 8+ characters)
    replaced by ``<redacted>`` wherever it occurs, e.g. where an ``${oc.env:...}`` interpolation resolved to it."""
    secrets = {name: value for name, value in environ.items() if SECRET_ENV.search(name) and len(value) >= 8}

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for name, secret in secrets.items():
                if secret in value:
                    log.warning("the config holds the value of $%s: written to metrics.json as <redacted>", name)
                    value = value.replace(secret, "<redacted>")
        return value

    return scrub(config)
