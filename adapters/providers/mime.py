"""The one MIME writer: every provider that sends raw messages sends exactly these bytes.

A UTF-8 text part and an optional HTML alternative, quoted-printable bodies (7-bit clean for
every relay), CRLF line ends. A plain ASCII header value is written exactly as given
(docs/api.md, extra headers), folded at a blank only where a line would pass RFC 5322's 998
characters; any other value becomes RFC 2047 encoded words of at most 78 columns. A value
is never folded right after its colon: a parser would read a leading blank.

Written as strings rather than built with the stdlib's ``email`` package, which re-parses
every header it sets (``set_charset``/``set_param``): ~0.25 ms a message against ~0.01 ms.
The tests hold the bytes to the stdlib parser's reading, field by field, against the stdlib
builder as the reference (tests/adapters/providers/stdlib_mime.py).
"""

from __future__ import annotations

import binascii
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.quoprimime import body_encode
from email.utils import formataddr, formatdate

import anyio

from adapters.ids import random_hex
from domain.model import Email, Sender

_CRLF = "\r\n"
_WIDTH = 78  # RFC 5322's recommended line length, CRLF excluded
_MAX_LINE = 998  # RFC 5322's hard limit
_WORD = "=?utf-8?b?{}?="  # an RFC 2047 encoded word: 12 characters around the base64
_WORD_OVERHEAD = 12
_TEXT_HEADERS = (
    'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)
_HTML_HEADERS = (
    'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)


def _plain(value: str) -> bool:
    """Written as is: ASCII that a reader would not decode (``=?``) nor trim (blanks)."""
    return value.isascii() and "=?" not in value and value == value.strip()


def _fold_plain(prefix: str, value: str) -> str | None:
    """``prefix`` + ``value``, folded before a blank only where a line would pass 998
    characters; None when that is not enough (a run without a blank is too long)."""
    line = prefix + value
    if len(line) <= _MAX_LINE:
        return line
    lines: list[str] = []
    words = value.split(" ")
    line = prefix + words[0]  # never fold right after the colon
    pending = ""  # blanks that precede the next word (runs of blanks stay together)
    for word in words[1:]:
        if not word:
            pending += " "
            continue
        piece = pending + " " + word
        pending = ""
        if len(line) + len(piece) > _MAX_LINE:
            lines.append(line)
            line = piece
        else:
            line += piece
    line += pending
    lines.append(line)
    if max(map(len, lines)) > _MAX_LINE:
        return None
    return _CRLF.join(lines)


def _encoded_words(prefix: str, value: str) -> str:
    """``value`` as base64 encoded words, each line within 78 columns, never splitting a
    character between two words (the first stays beside ``prefix`` however long it is)."""
    data = value.encode("utf-8")
    lines: list[str] = []
    room = _WIDTH - len(prefix)
    start = 0
    while start < len(data):
        size = max((room - _WORD_OVERHEAD) // 4 * 3, 1)
        stop = min(start + size, len(data))
        while stop < len(data) and data[stop] & 0xC0 == 0x80:  # inside a character
            stop -= 1
        if stop == start:  # room for less than one character: take one whole
            stop = start + 1
            while stop < len(data) and data[stop] & 0xC0 == 0x80:
                stop += 1
        word = _WORD.format(binascii.b2a_base64(data[start:stop], newline=False).decode())
        lines.append(word)
        start = stop
        room = _WIDTH - 1  # continuation lines start with one blank
    if not lines:
        return prefix
    return prefix + (_CRLF + " ").join(lines)


def header_field(name: str, value: str) -> str:
    """One header field, ``Name: value`` folded or encoded as needed, without its CRLF."""
    prefix = f"{name}: "
    if _plain(value):
        folded = _fold_plain(prefix, value)
        if folded is not None:
            return folded
    return _encoded_words(prefix, value)


def _address_list(name: str, addresses: tuple[str, ...]) -> str:
    """``Name: a, b, c`` folded before the blank after a comma, within 78 columns."""
    line = f"{name}: {addresses[0]}"
    lines: list[str] = []
    for address in addresses[1:]:
        if len(line) + 2 + len(address) > _WIDTH:
            lines.append(line + ",")
            line = " " + address
        else:
            line += ", " + address
    lines.append(line)
    return _CRLF.join(lines)


def _body(text: str) -> str:
    """UTF-8 quoted-printable with CRLF line ends, exactly as the stdlib encodes it."""
    if not text:
        return ""
    return body_encode(text.encode("utf-8").decode("latin-1")).replace("\n", _CRLF)


def _stdlib_from(sender: Sender) -> str:
    """The From field as the stdlib writes it (a display name may need encoding)."""
    utf8 = Charset("utf-8")
    utf8.header_encoding = QP
    message = Message()
    value = formataddr((sender.name, sender.address)) if sender.name else sender.address
    if value.isascii():
        message["From"] = value
    else:  # compat32 takes a Header as a value
        message["From"] = Header(value, utf8, header_name="From")  # type: ignore[assignment]
    return message.as_string(policy=compat32.clone(linesep=_CRLF)).split(_CRLF + _CRLF)[0]


# Measured here: quoted-printable costs ~0.06 us per character of non-ASCII text and
# ~0.004 us per ASCII character; encoded words ~0.03 us per header character. A message that
# would take more than ~5 ms is written in a worker thread, so that one large email never
# stalls the other requests on the event loop; the usual small one stays on the loop, where
# it costs far less than the thread hop would.
_OFF_LOOP_MICROSECONDS = 5000


def writes_slowly(email: Email) -> bool:
    """Whether writing ``email`` would hold the event loop for more than ~5 ms."""
    micros = 0.03 * (len(email.subject) + sum(len(v) for _, v in email.headers))
    for text in (email.text, email.html or ""):
        micros += len(text) * (0.004 if text.isascii() else 0.06)
    return micros > _OFF_LOOP_MICROSECONDS


class MimeWriter:
    """Writes messages from one sender: its From field and Message-ID domain are fixed."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender
        self._from = _stdlib_from(sender)
        self._domain = sender.address.rpartition("@")[2]
        self._date: tuple[int, str] = (-1, "")  # one tuple: threads may write messages too

    def new_message_id(self) -> str:
        """A unique ``<...@sender's domain>`` Message-ID."""
        return f"<{random_hex()}@{self._domain}>"

    def _date_field(self) -> str:
        second = int(time.time())
        if second != self._date[0]:  # formatted once a second, not once a message
            self._date = (second, "Date: " + formatdate(second, usegmt=True))
        return self._date[1]

    def write(self, email: Email, message_id: str | None = None) -> bytes:
        """The message's bytes: text/plain, or multipart/alternative with an HTML part.

        ``message_id`` is the ``Message-ID`` (angle brackets included); one is generated in
        the sender's domain when not given. Caller headers come last, on the top level.
        """
        fields = [self._from, _address_list("To", (email.to,))]
        if email.cc:
            fields.append(_address_list("Cc", email.cc))
        fields.append(header_field("Subject", email.subject))
        fields.append(self._date_field())
        fields.append(f"Message-ID: {message_id or self.new_message_id()}")
        fields.extend(header_field(name, value) for name, value in email.headers)
        top = _CRLF.join(fields)
        if email.html is None:
            return (
                'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
                f"Content-Transfer-Encoding: quoted-printable\r\n{top}\r\n\r\n"
                f"{_body(email.text)}"
            ).encode("ascii")
        boundary = f"=_{random_hex()}"  # "=_" never occurs in quoted-printable text
        return (
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
            f"MIME-Version: 1.0\r\n{top}\r\n\r\n"
            f"--{boundary}\r\n{_TEXT_HEADERS}\r\n{_body(email.text)}\r\n"
            f"--{boundary}\r\n{_HTML_HEADERS}\r\n{_body(email.html)}\r\n"
            f"--{boundary}--\r\n"
        ).encode("ascii")

    async def render(self, email: Email, message_id: str | None = None) -> bytes:
        """``write``, in a worker thread when writing ``email`` would be slow."""
        if writes_slowly(email):
            return await anyio.to_thread.run_sync(self.write, email, message_id)
        return self.write(email, message_id)
