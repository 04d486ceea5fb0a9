"""The one MIME builder: what every raw-sending provider puts on the wire."""

from __future__ import annotations

from email import message_from_bytes, policy

from adapters.providers.mime import build_message, message_bytes
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
    return message_bytes(build_message(email, SENDER, message_id))


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
    first, second = (build_message(email, SENDER)["Message-ID"] for _ in range(2))
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
