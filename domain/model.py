"""The service's values: emails, recipients, delivery problems."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import IntEnum

logger = logging.getLogger(__name__)


class ProblemType(IntEnum):
    """Delivery-problem types, numbered as in the accounts database."""

    HARD_BOUNCE = 1
    SOFT_BOUNCE = 2
    COMPLAINT = 3

    @property
    def wire_name(self) -> str:
        return _TYPE_NAMES[self]

    @classmethod
    def from_db(cls, value: int) -> ProblemType:
        """The accounts database stores 0 for old soft bounces; a number it should not hold
        is logged and counted as a soft bounce, never a failure of the send."""
        try:
            return cls.SOFT_BOUNCE if value == 0 else cls(value)
        except ValueError:
            logger.warning("unknown bounceType %r in the accounts database: soft", value)
            return cls.SOFT_BOUNCE


_TYPE_NAMES = {
    ProblemType.HARD_BOUNCE: "hardBounce",
    ProblemType.SOFT_BOUNCE: "softBounce",
    ProblemType.COMPLAINT: "complaint",
}


class ProblemSubtype(IntEnum):
    """Bounce and complaint subtypes, numbered as in the accounts database."""

    UNMAPPED = 0
    UNDETERMINED = 1
    GENERAL = 2
    NO_EMAIL = 3
    SUPPRESSED = 4
    MAILBOX_FULL = 5
    MESSAGE_TOO_LARGE = 6
    CONTENT_REJECTED = 7
    ATTACHMENT_REJECTED = 8
    ABUSE = 9
    AUTH_FAILURE = 10
    FRAUD = 11
    NOT_SPAM = 12
    OTHER = 13
    VIRUS = 14

    @property
    def wire_name(self) -> str:
        return SUBTYPE_NAMES[self]

    @classmethod
    def from_db(cls, value: int) -> ProblemSubtype:
        try:
            return cls(value)
        except ValueError:
            return cls.UNMAPPED


SUBTYPE_NAMES = {
    ProblemSubtype.UNMAPPED: "unmapped",
    ProblemSubtype.UNDETERMINED: "Undetermined",
    ProblemSubtype.GENERAL: "General",
    ProblemSubtype.NO_EMAIL: "NoEmail",
    ProblemSubtype.SUPPRESSED: "Suppressed",
    ProblemSubtype.MAILBOX_FULL: "MailboxFull",
    ProblemSubtype.MESSAGE_TOO_LARGE: "MessageTooLarge",
    ProblemSubtype.CONTENT_REJECTED: "ContentRejected",
    ProblemSubtype.ATTACHMENT_REJECTED: "AttachmentRejected",
    ProblemSubtype.ABUSE: "abuse",
    ProblemSubtype.AUTH_FAILURE: "auth-failure",
    ProblemSubtype.FRAUD: "fraud",
    ProblemSubtype.NOT_SPAM: "not-spam",
    ProblemSubtype.OTHER: "other",
    ProblemSubtype.VIRUS: "virus",
}
SUBTYPES_BY_NAME = {name: subtype for subtype, name in SUBTYPE_NAMES.items()}


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """One recorded bounce or complaint for one address.

    ``created_at`` is milliseconds since the epoch. ``feedback_id`` identifies the provider's
    notification, so that the same notification recorded twice counts once.
    """

    address: str
    type: ProblemType
    subtype: ProblemSubtype
    created_at: int
    feedback_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "type": self.type.wire_name,
            "subtype": self.subtype.wire_name,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Sender:
    """The ``From`` mailbox of every email."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Email:
    """A validated email, ready for a provider. Addresses are already normalised."""

    to: str
    subject: str
    text: str
    cc: tuple[str, ...] = ()
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def recipients(self) -> tuple[str, ...]:
        return (self.to, *self.cc)


@dataclass(frozen=True, slots=True)
class SendCommand:
    """What a relier asked for: the email, an optional provider name and opaque metadata.

    ``relier`` is the id of the relier's key (``-`` when no key was needed or given).
    """

    email: Email
    provider: str | None = None
    metadata: str | None = None
    relier: str = "-"


@dataclass(frozen=True, slots=True)
class MessageData:
    """What is stored with a sent email for its notifications (docs/notifications.md).

    ``metadata`` is the relier's opaque string, ``relier`` the id of the authenticated
    relier that sent it (docs/reliers.md); either is None when unknown.
    """

    metadata: str | None = None
    relier: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedRecipient:
    address: str
    errno: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """``message_id`` is ``<provider>:<provider's own id>``."""

    provider: str
    provider_message_id: str
    skipped: tuple[SkippedRecipient, ...] = field(default=())

    @property
    def message_id(self) -> str:
        return f"{self.provider}:{self.provider_message_id}"
