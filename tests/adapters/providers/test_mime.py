"""The one MIME writer: what every raw-sending provider puts on the wire."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

import pytest

from adapters.providers.mime import MimeWriter
from domain.model import Email, Sender
from tests.doubles.seen import from_mime, normalise_text

SENDER = Sender("accounts@example.com", "Fïrefox, Accounts")
EMAIL = Email(
    to="to@example.com",
    cc=("cc@example.org",),
    subject="Ünïcødé subject that is long enough to be folded over several lines " * 2,
    text="From the start of a line\nünïcødé " + "y" * 200,
    html="<p>ünïcødé</p>",
    headers=(("X-Template", "vérify"), ("Content-Language", "fr"), ("Reply-To", "r@example.com")),
)


def wire(email: Email = EMAIL, message_id: str | None = None) -> bytes:
    return MimeWriter(SENDER).write(email, message_id)


def test_round_trips_through_the_stdlib_parser() -> None:
    seen = from_mime(wire(message_id="<fixed@example.com>"), "fixed@example.com")
    assert (seen.sender, seen.sender_name) == (SENDER.address, SENDER.name)
    assert (seen.to, seen.cc, seen.subject) == ([EMAIL.to], list(EMAIL.cc), EMAIL.subject)
    assert seen.text == normalise_text(EMAIL.text)
    assert seen.html == EMAIL.html
    assert seen.headers == dict(EMAIL.headers)


def test_is_seven_bit_with_crlf_lines_of_legal_length() -> None:
    raw = wire()
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 78


def test_structure_headers_sit_on_the_top_level_only() -> None:
    message = message_from_bytes(wire(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["MIME-Version"] == "1.0"
    assert message["Content-Language"] == "fr"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part["MIME-Version"] is None and part["Content-Language"] is None
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"


def test_text_only_is_a_single_part_and_message_ids_are_unique() -> None:
    email = Email(to="to@example.com", subject="s", text="t")
    message = message_from_bytes(wire(email), policy=policy.default)
    assert message.get_content_type() == "text/plain"
    first, second = (message_from_bytes(wire(email))["Message-ID"] for _ in range(2))
    assert first != second and str(first).endswith("@example.com>")


def test_awkward_ascii_subjects_survive_folding_within_998_columns() -> None:
    subjects = [
        "x" * 2000,  # one run longer than a line: plain folding could not split it
        "  leading and trailing blanks  ",
        "looks like =?utf-8?q?an_encoded_word?=",
    ]
    for subject in subjects:
        raw = wire(Email(to="to@example.com", subject=subject, text="t"))
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        seen = from_mime(raw, "id")
        assert seen.subject == subject


def raw_header(raw: bytes, name: bytes) -> bytes:
    """The header's lines as on the wire, unfolding left undone."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    start = head.index(b"\r\n" + name + b": ") + 2
    end = start
    while True:
        end = head.find(b"\r\n", end + 1)
        if end == -1 or head[end + 2 : end + 3] not in (b" ", b"\t"):
            return head[start : len(head) if end == -1 else end]


@pytest.mark.parametrize("length", [53, 54, 60, 76, 77, 200, 900])
def test_ascii_values_are_written_as_given_never_folded_after_the_colon(length: int) -> None:
    # SES matches X-SES-CONFIGURATION-SET to a set's name: a leading space breaks that.
    value = ("configuration-set-" + "x" * length)[:length]
    link = "https://accounts.example.com/verify?code=" + "c" * length
    email = Email(
        to="to@example.com",
        subject="s",
        text="t",
        headers=(("X-SES-CONFIGURATION-SET", value), ("X-Link", link)),
    )
    raw = wire(email)
    name = b"X-SES-CONFIGURATION-SET"
    assert raw_header(raw, name) == name + b": " + value.encode()
    assert raw_header(raw, b"X-Link") == b"X-Link: " + link.encode()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert (parsed["X-SES-CONFIGURATION-SET"], parsed["X-Link"]) == (value, link)


def test_long_values_fold_at_a_blank_within_998_characters_and_unfold_as_given() -> None:
    value = " ".join(["word" * 20] * 12)  # 983 characters with blanks
    subject = "a" * 998  # no blank: one line would pass 998, so it is encoded instead
    email = Email(to="to@example.com", subject=subject, text="t", headers=(("X-Long", value),))
    raw = wire(email)
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    folded = raw_header(raw, b"X-Long")
    assert b"X-Long: " + value.encode()[:10] == folded[:18]
    assert folded.replace(b"\r\n", b"") == b"X-Long: " + value.encode()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert (parsed["X-Long"], parsed["Subject"]) == (value, subject)


async def test_a_message_slow_to_write_is_written_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 1 MiB body of non-ASCII text takes ~60 ms to encode: on the loop, that would stall
    # every other request (and /__lbheartbeat__) meanwhile. 50 encoded 998-character
    # headers take ~1.5 ms with this writer (50-200 ms with the stdlib): on the loop.
    threads: list[int] = []
    real = MimeWriter.write

    def spy(self: MimeWriter, email: Email, message_id: str | None = None) -> bytes:
        threads.append(threading.get_ident())
        return real(self, email, message_id)

    monkeypatch.setattr(MimeWriter, "write", spy)
    writer = MimeWriter(SENDER)
    small = Email(to="to@example.com", subject="s", text="t", headers=(("X-A", "\u00fc" * 50),))
    large_body = Email(to="to@example.com", subject="s", text="\u00fc" * 100_000)
    large_html = Email(to="to@example.com", subject="s", text="t", html="\u00fc" * 100_000)
    many_headers = Email(
        to="to@example.com",
        subject="\u00fc" * 998,
        text="t",
        headers=tuple((f"X-H{i}", "\u00fc" * 998) for i in range(50)),
    )

    for email in (small, large_body, large_html, many_headers):
        await writer.render(email)

    loop = threading.get_ident()
    assert [thread == loop for thread in threads] == [True, False, False, True]
