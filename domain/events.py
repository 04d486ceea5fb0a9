"""Delivery events: what a provider reports about an email it sent, in no provider's terms.

Every source of events (SES notifications over SQS or SNS, Sendgrid's and SocketLabs'
webhooks) maps its own names to these values in its adapter; the HandleDeliveryEvent service
(`domain/notifications.py`) handles them all the same way (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.model import ProblemSubtype, ProblemType

# The kinds that every provider reports. Any other kind (SES event publishing's `Send`,
# `Reject`, `Open`, `Click`, `Rendering Failure`, `DeliveryDelay`, `Subscription`) records
# nothing and is forwarded with its `details`.
BOUNCE = "Bounce"
COMPLAINT = "Complaint"
DELIVERY = "Delivery"


@dataclass(frozen=True, slots=True)
class Mail:
    """The email an event is about.

    ``message_id`` is the provider's own id: the part of `/send`'s ``messageId`` after
    ``<provider>:``, which is also the key of the relier's metadata. ``timestamp_ms`` (when
    the provider accepted it, milliseconds since the epoch) is None when unknown.
    ``headers`` are (name, value) pairs in their order on the email.
    """

    message_id: str
    timestamp_ms: int | None = None
    source: str = ""
    destination: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One provider's report about one email: a bounce, a complaint, a delivery, or other.

    - ``provider``: the provider's name as `/send` knows it (``ses``, ``sendgrid``, ...).
    - ``kind``: ``BOUNCE``, ``COMPLAINT``, ``DELIVERY`` or another name (recorded as nothing).
    - ``recipients``: the addresses the event is about (one for a webhook event; SES may list
      thousands in one notification).
    - ``problem_type`` and ``problem_subtype``: for a bounce (hard or soft) and a complaint
      (``ProblemType.COMPLAINT``), already mapped from the provider's names; None otherwise.
    - ``timestamp_ms``: the event's own time as the provider gives it (None when absent);
      the service clamps it before recording.
    - ``event_id``: the provider's id of the event (SES's ``feedbackId``, Sendgrid's
      ``sg_event_id``), so that an event delivered twice is recorded once; None when the
      provider gives none.
    - ``details``: provider fields forwarded as they are for kinds other than the three
      (for SES, e.g. the ``open`` object of an ``Open`` event under its key). Not compared.
    """

    provider: str
    kind: str
    mail: Mail
    recipients: tuple[str, ...] = ()
    problem_type: ProblemType | None = None
    problem_subtype: ProblemSubtype = ProblemSubtype.UNMAPPED
    timestamp_ms: int | None = None
    event_id: str | None = None
    details: Mapping[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        expected = {
            BOUNCE: (ProblemType.HARD_BOUNCE, ProblemType.SOFT_BOUNCE),
            COMPLAINT: (ProblemType.COMPLAINT,),
        }.get(self.kind, (None,))
        if self.problem_type not in expected:
            raise ValueError(f"a {self.kind} event cannot have problem type {self.problem_type}")

    @property
    def message_id(self) -> str:
        """The provider's own id of the email (``mail.message_id``)."""
        return self.mail.message_id
