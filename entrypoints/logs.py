"""Logging set-up: mozlog JSON lines (dockerflow's formatter) or a pretty one-line format."""

from __future__ import annotations

import json
import logging
import sys

from dockerflow.logging import MozlogFormatter, request_id_context

from config.settings import Settings

LOGGER_NAME = "fxa-email-service"
THIRD_PARTY_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "httpx",
    "httpcore",
    "asyncmy",
    "aiosmtplib",
    "python_http_client",
    "sendgrid",
    "hpack",
)


def _drop_color_message(record: logging.LogRecord) -> bool:
    """uvicorn attaches an ANSI-coloured copy of some messages; mozlog would print it."""
    record.__dict__.pop("color_message", None)
    return True


def _attach_request_id(record: logging.LogRecord) -> bool:
    """Inside a request, every line carries its id (``rid``), as the request summary does."""
    rid = request_id_context.get()
    if rid is not None and "rid" not in record.__dict__:
        record.rid = rid
    return True


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_drop_color_message)
    handler.addFilter(_attach_request_id)
    if settings.log.format == "mozlog":
        handler.setFormatter(MozlogFormatter(logger_name=LOGGER_NAME))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log.level.upper())
    # Client libraries log what they send: botocore request bodies and headers at debug,
    # httpx every URL at info (an accounts-DB URL holds its password and the address's
    # hex). Whatever the level, only their warnings and errors get through.
    for library in THIRD_PARTY_LOGGERS:
        logging.getLogger(library).setLevel(max(logging.WARNING, root.level))


def log_effective_configuration(settings: Settings) -> None:
    logging.getLogger(LOGGER_NAME).info(
        "effective configuration: %s", json.dumps(settings.redacted(), sort_keys=True)
    )
