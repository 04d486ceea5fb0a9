"""The one MIME builder: every provider that sends raw messages sends exactly this.

Built with the stdlib's ``email.mime`` classes and the compat32 policy rather than
``EmailMessage``: the latter re-parses every header through its header registry, which cost
~0.6 ms per message here against ~0.1 ms for the same bytes built this way.
"""

from __future__ import annotations

from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, make_msgid

from domain.model import Email, Sender

_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP  # 7-bit clean for every relay, readable in the raw source
_WIRE = compat32.clone(linesep="\r\n")


def _header(name: str, value: str) -> str | Header:
    """Plain ASCII as is; anything else RFC 2047 encoded, folded to 76 columns with the name.

    Encoded too: text that a reader would otherwise decode as an encoded word (``=?``),
    leading or trailing blanks (folding would drop them), and runs without a blank longer
    than a line, which plain folding cannot split (RFC 5322 caps lines at 998 characters).
    """
    plain = (
        value.isascii()
        and "=?" not in value
        and value == value.strip()
        and max(map(len, value.split()), default=0) <= 76
    )
    return value if plain else Header(value, _UTF8, header_name=name)


def build_message(email: Email, sender: Sender, message_id: str | None = None) -> Message:
    """An RFC 5322 message: text/plain, or multipart/alternative with an HTML part; UTF-8.

    ``message_id`` is the ``Message-ID`` header (angle brackets included); one is generated
    in the sender's domain when not given. Caller headers come last, on the top level.
    """
    text = MIMEText(email.text, "plain", _UTF8)  # type: ignore[arg-type]  # a Charset works
    if email.html is None:
        message: Message = text
    else:
        html = MIMEText(email.html, "html", _UTF8)  # type: ignore[arg-type]
        for part in (text, html):
            del part["MIME-Version"]  # belongs to the top level only
        message = MIMEMultipart("alternative", _subparts=[text, html])
    message["From"] = formataddr((sender.name, sender.address)) if sender.name else sender.address
    message["To"] = email.to
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    message["Subject"] = _header("Subject", email.subject)  # type: ignore[assignment]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender.address.rpartition("@")[2])
    for name, value in email.headers:
        message[name] = _header(name, value)  # type: ignore[assignment]
    return message


def message_bytes(message: Message) -> bytes:
    """The message as sent: CRLF line endings, headers folded and encoded."""
    return message.as_bytes(policy=_WIRE)
