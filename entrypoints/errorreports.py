"""Sentry error reporting (docs/operations.md, Sentry), on only when ``sentry.dsn`` is set.

Events come from the log: every line at error level or above (errno 100 with its traceback,
provider and store failures, every worker failure) becomes one Sentry event; lines below it
are not sent, not even as breadcrumbs. Before an event leaves, ``scrub`` removes what must
never leave the service: addresses (replaced wherever they appear in a string), metadata,
bodies, subjects, request headers and data, and the message of any exception but the
service's own errors. Local variables and source lines are never captured.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint

from config.settings import Settings

FILTERED = "[Filtered]"
ADDRESS = "[address]"
# Wider than the service's own rule on purpose: anything that looks like an address goes.
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+\.[^\s<>()\[\]\"',;:@]+")
# Keys whose values are a relier's data or a request's, whatever they hold.
_SECRET_KEYS = frozenset(
    (
        "metadata",
        "body",
        "data",
        "text",
        "html",
        "subject",
        "headers",
        "cookies",
        "query_string",
        "to",
        "cc",
        "address",
        "addresses",
        "recipients",
        "destination",
        "email",
        "env",
        "vars",
    )
)
# Whole sections of an event that describe a request or a user: dropped.
_DROPPED_SECTIONS = ("request", "user", "server_name")
_OWN_MODULES = ("domain.", "config.")


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return _ADDRESS.sub(ADDRESS, value)
    if isinstance(value, dict):
        return {
            key: FILTERED if str(key).lower() in _SECRET_KEYS else _scrub_value(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub_value(item) for item in value]
    return value


def _own_error(exception: dict[str, Any]) -> bool:
    """The service's own errors, whose messages it writes itself, free of private data."""
    return str(exception.get("module", "")).startswith(_OWN_MODULES)


def scrub(event: Event, hint: Hint | None = None) -> Event:
    """The event without addresses, metadata, bodies or request headers (``before_send``).

    Another library's exception message may quote anything it was given (a recipient, a
    subject, a body): only its type and stack trace are kept.
    """
    kept: dict[str, Any] = {k: v for k, v in event.items() if k not in _DROPPED_SECTIONS}
    for exception in kept.get("exception", {}).get("values", ()):
        if not _own_error(exception):
            exception["value"] = FILTERED
    scrubbed: Event = _scrub_value(kept)
    return scrubbed


def configure_error_reports(settings: Settings) -> Callable[[], None] | None:
    """Start reporting to ``sentry.dsn``; return a function that flushes and stops it."""
    if settings.sentry.dsn is None:
        return None
    try:
        release = importlib_metadata.version("fxa-email-service")
    except importlib_metadata.PackageNotFoundError:
        release = None
    sentry_sdk.init(
        dsn=settings.sentry.dsn.get_secret_value(),
        environment=settings.sentry.environment or settings.env,
        release=release,
        # Only what is listed: no framework or HTTP-client patching, no stdlib breadcrumbs.
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=None, event_level=logging.ERROR),
            DedupeIntegration(),
        ],
        include_local_variables=False,
        include_source_context=False,
        max_request_body_size="never",
        before_send=scrub,
    )
    logging.getLogger(__name__).info("error reports go to Sentry")

    def stop() -> None:
        client = sentry_sdk.get_client()
        client.flush(timeout=5)
        client.close()
        sentry_sdk.get_global_scope().set_client(None)

    return stop
