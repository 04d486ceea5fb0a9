"""The MIME writer against the stdlib: random emails, written, parsed back field by field.

The stdlib's own builder (``stdlib_mime``, beside this file) is the reference for the
structure and the bodies; subjects, headers and addresses are compared with what the caller
gave.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.providers.mime import MimeWriter, header_field
from domain.model import Email, Sender
from tests.adapters.providers.stdlib_mime import build_message, message_bytes

SENDERS = [
    Sender("accounts@example.com", "Fïrefox, Accounts"),
    Sender("accounts@example.com", "Firefox Accounts"),
    Sender("no-reply@mail.example.org", ""),
    Sender("a@example.com", '"Quoted" (and) <odd>'),
]
_BUILT_IN = {
    "from", "to", "cc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip

# What the request rules let through into a header value (docs/api.md): no control
# characters, no line breaks of any kind, no lone surrogates.
_HEADER_TEXT = st.characters(
    exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters="\x85"
) | st.sampled_from(' \t=?_"()<>,;:\\')
header_values = st.text(_HEADER_TEXT, max_size=200) | st.sampled_from(
    [
        "",
        " ",
        "x" * 998,
        "a " * 400,
        "  leading and trailing blanks  ",
        "looks like =?utf-8?q?an_encoded_word?=",
        "ünïcødé " * 60,
        "\U0001f600" * 200,
        "two  blanks\tand a tab",
    ]
)
body_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=300) | st.sampled_from(
    ["", "\n", "\r\n", "\r", "line\r\n\r\nend\n", "From the start of a line", "=" * 200, " \n"]
)
_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
# Dot-atom local parts. Not "=?": the stdlib's address parser itself crashes on a local
# part that looks like an encoded word (it reads the stdlib builder's bytes no better).
_LOCAL = st.lists(st.text(st.sampled_from(_ATEXT), min_size=1, max_size=12), min_size=1, max_size=4)
addresses = st.builds(
    lambda atoms, labels: f"{'.'.join(atoms)}@{'.'.join(labels)}",
    _LOCAL.filter(lambda atoms: "=?" not in ".".join(atoms)),
    st.lists(_LABEL, min_size=2, max_size=4),
)
header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,40}", fullmatch=True) | st.sampled_from(
    ["Reply-To", "Content-Language", "X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS", "Keywords"]
)


@st.composite
def emails(draw: Any) -> Email:
    names = draw(st.lists(header_names, max_size=5, unique_by=str.lower))
    headers = tuple(
        (name, draw(addresses if name == "Reply-To" else header_values)) for name in names
    )
    return Email(
        to=draw(addresses),
        cc=tuple(draw(st.lists(addresses, max_size=8))),
        subject=draw(header_values),
        text=draw(body_texts),
        html=draw(st.none() | body_texts),
        headers=headers,
    )


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def structure(message: EmailMessage) -> list[tuple[str, str | None, str | None, str]]:
    """Each part's type, charset, transfer encoding and decoded content."""
    parts = [message] if not message.is_multipart() else list(message.iter_parts())
    assert all(isinstance(part, EmailMessage) for part in parts)
    return [
        (
            part.get_content_type(),
            part.get_content_charset(),
            part["Content-Transfer-Encoding"],
            part.get_content(),
        )
        for part in parts
    ]


def lines_of(text: str) -> list[str]:
    """The lines a reader sees: MIME carries CRLF, so CR, LF and CRLF all end a line, and
    a part's end may add one (the stdlib's builder does the same: compared exactly above)."""
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and not lines[-1]:
        lines.pop()
    return lines


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(email=emails(), sender=st.sampled_from(SENDERS))
@example(
    email=Email(to="to@example.com", subject="s", text="t", headers=(("X-A", "x" * 998),)),
    sender=SENDERS[0],
)
def test_the_stdlib_parser_reads_back_every_field(email: Email, sender: Sender) -> None:
    raw = MimeWriter(sender).write(email, "<fixed@example.com>")
    reference = message_bytes(build_message(email, sender, "<fixed@example.com>"))
    message, expected = parse(raw), parse(reference)

    assert raw.isascii() and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert not message.defects and all(not part.defects for part in message.walk())
    assert parseaddr(str(message["From"])) == parseaddr(str(expected["From"]))
    assert parseaddr(str(message["From"]))[1] == sender.address
    assert [a for _, a in getaddresses(message.get_all("To", []))] == [email.to]
    assert [a for _, a in getaddresses(message.get_all("Cc", []))] == list(email.cc)
    assert str(message["Subject"]) == email.subject
    assert str(message["Message-ID"]) == "<fixed@example.com>"
    assert message["MIME-Version"] == "1.0" and message["Date"].datetime is not None
    extra = {k: str(v) for k, v in message.items() if k.lower() not in _BUILT_IN}
    assert extra == dict(email.headers)
    assert structure(message) == structure(expected)
    bodies = [email.text] if email.html is None else [email.text, email.html]
    for (_, _, _, content), body in zip(structure(message), bodies, strict=True):
        assert lines_of(content) == lines_of(body)


@given(name=header_names, value=header_values)
@settings(max_examples=300, deadline=None)
def test_a_value_is_never_folded_right_after_its_colon(name: str, value: str) -> None:
    field = header_field(name, value)
    first = field.split("\r\n", 1)[0]
    assert first.startswith(f"{name}: ")
    assert len(first) > len(name) + 2 or value == ""


def test_encoded_values_and_address_lists_stay_within_78_columns() -> None:
    email = Email(
        to="to@example.com",
        cc=tuple(f"cc{n}@example.org" for n in range(20)),
        subject="Ünïcødé subject that is long enough to be folded over several lines " * 3,
        text="t",
        headers=(("X-Template", "a plain value"), ("X-Unicode", "vérify " * 30)),
    )
    raw = MimeWriter(SENDERS[0]).write(email)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_message_ids_are_unique_in_the_senders_domain() -> None:
    writer = MimeWriter(SENDERS[2])
    email = Email(to="to@example.com", subject="s", text="t")
    first, second = (parse(writer.write(email))["Message-ID"] for _ in range(2))
    assert first != second and str(first).endswith("@mail.example.org>")
