"""Reply-To for the JSON APIs (Sendgrid, SocketLabs), which carry it in fields of their own."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import getaddresses


def split_reply_to(
    headers: Sequence[tuple[str, str]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (name, address) pairs of the Reply-To header, if any, and the other headers."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == "reply-to":
            others = [*headers[:index], *headers[index + 1 :]]
            return getaddresses([value]), others
    return [], list(headers)
