"""What a provider's server received, in one shape for every provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

# Headers every message has; anything else on a received message came from the caller.
_BUILT_IN = {
    "from", "to", "cc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip


@dataclass
class SeenEmail:
    """``message_id`` is the id the server knows the message by (what ``send`` must return)."""

    message_id: str
    sender: str
    sender_name: str
    to: list[str]
    cc: list[str]
    subject: str
    text: str
    html: str | None
    headers: dict[str, str] = field(default_factory=dict)
    envelope: list[str] | None = None  # the recipients the transport was told, when it has one


def normalise_text(value: str) -> str:
    """Line ends as the caller wrote them: MIME carries CRLF and adds a final line end."""
    return value.replace("\r\n", "\n").rstrip("\n")


def from_mime(raw: bytes, message_id: str, envelope: list[str] | None = None) -> SeenEmail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    name, address = parseaddr(str(message["From"]))
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None, "no text/plain part"
    return SeenEmail(
        message_id=message_id,
        sender=address,
        sender_name=name,
        to=[a for _, a in getaddresses(message.get_all("To", []))],
        cc=[a for _, a in getaddresses(message.get_all("Cc", []))],
        subject=str(message["Subject"]),
        text=normalise_text(text_part.get_content()),
        html=None if html_part is None else normalise_text(html_part.get_content()),
        headers={k: str(v) for k, v in message.items() if k.lower() not in _BUILT_IN},
        envelope=envelope,
    )
