"""SES through moto: what moto saw sent, and SES's own error answers for scripted servers."""

from __future__ import annotations

from collections.abc import Callable

from tests.doubles.http import Reply
from tests.doubles.seen import SeenEmail, from_mime
from tests.servers import MotoServer

_ERROR = (
    '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error>'
    "<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>4d2c1e5e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
)


def ses_error(status: int, code: str, kind: str = "Receiver") -> Reply:
    """An SES (query protocol) error answer, e.g. 503 ServiceUnavailable, 400 Throttling."""
    body = _ERROR.format(kind=kind, code=code, message=f"{code} happened").encode()
    return Reply(status, body, content_type="text/xml")


def ses_seen(moto: MotoServer) -> Callable[[str], SeenEmail]:
    """Reads a raw send back through moto's own API (``/moto-api/data.json``)."""

    def seen(message_id: str) -> SeenEmail:
        for sent in moto.data()["ses"]["RawMessage"]:
            if sent["id"] == message_id:
                return from_mime(sent["raw_data"].encode(), message_id, sent["destinations"])
        raise AssertionError(f"moto has no raw message {message_id!r}")

    return seen
