"""The one MIME builder: every provider that sends raw messages sends exactly this."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid

from domain.model import Email, Sender


def build_message(email: Email, sender: Sender, message_id: str | None = None) -> EmailMessage:
    """An RFC 5322 message: multipart/alternative (text, optional HTML), UTF-8 as
    quoted-printable (7-bit clean for every relay), CRLF lines.

    ``message_id`` is the ``Message-ID`` header (angle brackets included); one is generated
    in the sender's domain when not given.
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((sender.name, sender.address)) if sender.name else sender.address
    message["To"] = email.to
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender.address.rpartition("@")[2])
    message.set_content(email.text, charset="utf-8", cte="quoted-printable")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
        for part in message.iter_parts():
            del part["MIME-Version"]  # belongs to the top level only
    # After the body: set_content() drops every Content-* header already present (such as a
    # caller's Content-Language) and make_alternative() would move them into the text part.
    for name, value in email.headers:
        message[name] = value
    return message


def message_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP)
