"""SocketLabs' Notification API (Event Webhook): secret key, validation handshake, events.

SocketLabs puts the endpoint's Secret Key and the server's id in every post and expects the
Validation Key in every answer (docs/events.md). Posts are JSON; the legacy form encoding
(``application/x-www-form-urlencoded``) is read as well.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from domain.errors import UnverifiedEvent

VALIDATION = "Validation"


def read_post(body: bytes, content_type: str) -> dict[str, Any]:
    """The post's fields; raises UnverifiedEvent for a body that is neither form nor JSON
    object (nothing in it can be trusted, not even a secret key)."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == "application/x-www-form-urlencoded":
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UnverifiedEvent("socketlabs post is not JSON or a form") from None
    if not isinstance(fields, dict):
        raise UnverifiedEvent("socketlabs post is not a JSON object")
    return fields


class SocketlabsNotificationVerifier:
    """Checks a post's ``SecretKey`` (in constant time) and, when set, its ``ServerId``."""

    def __init__(self, secret_key: str, validation_key: str, server_id: int | None) -> None:
        self._secret = secret_key.encode("utf-8")
        self.validation_key = validation_key
        self._server_id = server_id

    def verify(self, fields: Mapping[str, Any]) -> None:
        given = fields.get("SecretKey")
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode("utf-8"), self._secret
        ):
            raise UnverifiedEvent("socketlabs SecretKey missing or wrong")
        server = fields.get("ServerId")
        if self._server_id is not None and server is not None:
            if str(server).strip() != str(self._server_id):
                raise UnverifiedEvent("socketlabs ServerId is not socketlabs.serverid")
