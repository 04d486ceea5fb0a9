"""The reference the MIME writer is held to: the same message built with the stdlib.

``adapters/providers/mime.py`` writes the bytes directly; the property tests parse both its
output and this builder's with the stdlib parser and compare them. Built with the stdlib's
``email.mime`` classes and the compat32 policy (``EmailMessage`` re-parses every header).
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


_MAX_LINE = 998  # RFC 5322's hard limit on a line, CRLF excluded


class _Verbatim:
    """A plain ASCII header value written exactly as given.

    The stdlib folds a value that does not fit 78 columns beside its name right after the
    colon, so the value would arrive with a leading space (and SES would not match an
    ``X-SES-CONFIGURATION-SET`` of 54 characters or more). This one stays on the header's
    line, folded at a blank only if that line would pass RFC 5322's 998 characters.
    """

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None, **_: object) -> str:
        """What compat32's folding calls on a Header-like value: the text after ``Name: ``."""
        return self.value.replace("\n", linesep)


def _fold_verbatim(name: str, value: str) -> str | None:
    """``value`` folded at blanks so that no line passes 998 characters, never right after
    the colon; None when a run without a blank is too long for that."""
    lines: list[str] = []
    line = ""
    room = _MAX_LINE - len(name) - 2
    for word in value.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= room or not line:
            line = candidate
        else:
            lines.append(line)
            line = " " + word
            room = _MAX_LINE
        if len(line) > room:
            return None
    lines.append(line)
    return "\n".join(lines)


def _plain(value: str) -> bool:
    return value.isascii() and "=?" not in value and value == value.strip()


def _header(name: str, value: str) -> _Verbatim | Header:
    """Plain ASCII exactly as given; anything else RFC 2047 encoded, folded to 76 columns.

    Encoded too: text that a reader would otherwise decode as an encoded word (``=?``),
    leading or trailing blanks (folding would drop them), and runs without a blank too long
    for one line of 998 characters, which plain folding cannot split.
    """
    if _plain(value):
        folded = value if len(name) + 2 + len(value) <= _MAX_LINE else _fold_verbatim(name, value)
        if folded is not None:
            return _Verbatim(folded)
    return Header(value, _UTF8, header_name=name)


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
