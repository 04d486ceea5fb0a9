"""The JSON the Sendgrid and SocketLabs adapters build: what each API needs beyond MIME."""

from __future__ import annotations

from adapters.providers.reply_to import split_reply_to
from adapters.providers.sendgrid import mail_body
from adapters.providers.socketlabs import injection_body
from domain.model import Email, Sender

SENDER = Sender("accounts@example.com", "Accounts")


def email(**headers: str) -> Email:
    return Email(
        to="to@example.com",
        cc=("TO@example.com", "cc@example.com", "CC@example.com"),
        subject="s",
        text="t",
        headers=tuple(headers.items()),
    )


def test_sendgrid_drops_repeated_recipients_which_it_would_refuse() -> None:
    personalization = mail_body(email(), SENDER)["personalizations"][0]
    assert personalization["to"] == [{"email": "to@example.com"}]
    assert personalization["cc"] == [{"email": "cc@example.com"}]


def test_sendgrid_carries_reply_to_in_its_own_fields() -> None:
    single = mail_body(email(**{"Reply-To": "Help <help@example.com>", "X-A": "1"}), SENDER)
    assert single["reply_to"] == {"email": "help@example.com", "name": "Help"}
    assert single["headers"] == {"X-A": "1"}
    several = mail_body(email(**{"reply-to": "a@example.com, b@example.com"}), SENDER)
    assert several["reply_to_list"] == [{"email": "a@example.com"}, {"email": "b@example.com"}]
    assert "headers" not in several and "reply_to" not in several


def test_socketlabs_body_has_credentials_reply_to_and_custom_headers() -> None:
    body = injection_body(email(**{"Reply-To": "help@example.com", "X-A": "1"}), SENDER, 7, "k")
    assert (body["ServerId"], body["APIKey"]) == (7, "k")
    (message,) = body["Messages"]
    assert message["From"] == {"EmailAddress": "accounts@example.com", "FriendlyName": "Accounts"}
    assert message["ReplyTo"] == {"EmailAddress": "help@example.com"}
    assert message["CustomHeaders"] == [{"Name": "X-A", "Value": "1"}]
    assert "HtmlBody" not in message


def test_socketlabs_keeps_several_reply_to_addresses_as_the_header() -> None:
    body = injection_body(email(**{"reply-to": "a@example.com, b@example.com"}), SENDER, 7, "k")
    (message,) = body["Messages"]
    assert "ReplyTo" not in message
    assert message["CustomHeaders"] == [
        {"Name": "reply-to", "Value": "a@example.com, b@example.com"}
    ]


def test_split_reply_to_parses_the_header_once_for_both_apis() -> None:
    headers = (("X-A", "1"), ("REPLY-TO", "Help <help@example.com>, b@example.com"), ("X-B", "2"))
    assert split_reply_to(headers) == (
        [("Help", "help@example.com"), ("", "b@example.com")],
        [("X-A", "1"), ("X-B", "2")],
    )
    assert split_reply_to((("X-A", "1"),)) == ([], [("X-A", "1")])
