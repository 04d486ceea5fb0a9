"""The event webhooks: POST /events/sns, /events/sendgrid and /events/socketlabs.

Each request is verified before anything in it is read; each verified event goes to the one
HandleDeliveryEvent service the worker uses (docs/events.md). Answers: 403 errno 128 for
anything that does not verify (nothing recorded), 200 once every event is handled or was
not one the service maps, a 5xx when a store or the outgoing queue fails, so that the
provider posts it again (recording is idempotent, so that retry records nothing twice).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response

from adapters.events import UnmappedEvent
from adapters.events import sendgrid as sendgrid_events
from adapters.events import socketlabs as socketlabs_events
from adapters.events.sendgrid import SendgridWebhookVerifier
from adapters.events.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    SnsMessageVerifier,
)
from adapters.events.socketlabs import SocketlabsNotificationVerifier, read_post
from adapters.queues.ses_notifications import UnparseableNotification, json_object, parse_ses
from domain.errors import ServiceError, UnverifiedEvent
from domain.events import DeliveryEvent
from domain.notifications import Handled

logger = logging.getLogger(__name__)

Handler = Callable[[DeliveryEvent], Awaitable[Handled]]
EventEndpoint = Callable[[Headers, bytes], Awaitable[Response]]


class ConfirmationFailed(ServiceError):
    """SNS did not accept the subscription confirmation; answered 500 so SNS sends it again."""

    errno = 100


class EventEndpoints:
    """One method per provider: (request headers, raw body) -> the answer.

    A verifier that is None (its settings are unset) refuses every request with 403.
    """

    def __init__(
        self,
        handle: Handler,
        sns: SnsMessageVerifier | None,
        sendgrid: SendgridWebhookVerifier | None,
        socketlabs: SocketlabsNotificationVerifier | None,
        sender: str = "",
    ) -> None:
        self._handle = handle
        self._sender = sender
        self._sns = sns
        self._sendgrid = sendgrid
        self._socketlabs = socketlabs

    def routes(self) -> Mapping[str, EventEndpoint]:
        return {
            "/events/sns": self.sns,
            "/events/sendgrid": self.sendgrid,
            "/events/socketlabs": self.socketlabs,
        }

    async def sns(self, headers: Headers, body: bytes) -> Response:
        if self._sns is None:
            raise UnverifiedEvent("SNS events are not configured (sns.topics)")
        try:
            envelope = json_object(body.decode("utf-8"), "body")
        except (UnparseableNotification, UnicodeDecodeError):
            raise UnverifiedEvent("SNS post is not a JSON object") from None
        message = await self._sns.verify(envelope)
        if message.type == SUBSCRIPTION_CONFIRMATION:
            try:
                await self._sns.confirm(message)
            except ConnectionError as exc:
                logger.error("SNS subscription to %s not confirmed: %s", message.topic_arn, exc)
                raise ConfirmationFailed("the subscription could not be confirmed") from None
        elif message.type == NOTIFICATION:
            try:
                event = parse_ses(json_object(message.message, "SNS Message"))
            except UnparseableNotification as exc:
                return _unmapped("sns", [str(exc)])
            await self._handle(event)
        else:
            logger.info("SNS %s for %s: nothing to do", message.type, message.topic_arn)
        return JSONResponse({})

    async def sendgrid(self, headers: Headers, body: bytes) -> Response:
        if self._sendgrid is None:
            raise UnverifiedEvent("sendgrid events are not configured (sendgrid.webhookkey)")
        self._sendgrid.verify(
            body,
            headers.get(sendgrid_events.SIGNATURE_HEADER),
            headers.get(sendgrid_events.TIMESTAMP_HEADER),
        )
        try:
            items = sendgrid_events.read_events(body)
        except UnmappedEvent as exc:
            return _unmapped("sendgrid", [str(exc)])
        unmapped: list[str] = []
        for item in items:
            try:
                event = sendgrid_events.delivery_event(item)
            except UnmappedEvent as exc:
                unmapped.append(str(exc))
                continue
            await self._handle(self._sent_by_us(event))
        return _unmapped("sendgrid", unmapped)

    async def socketlabs(self, headers: Headers, body: bytes) -> Response:
        if self._socketlabs is None:
            raise UnverifiedEvent("socketlabs events are not configured (socketlabs.secretkey)")
        fields = read_post(body, headers.get("content-type", ""))
        self._socketlabs.verify(fields)
        # SocketLabs wants the validation key in every answer, the Validation request's too.
        answer = PlainTextResponse(self._socketlabs.validation_key)
        if fields.get("Type") == socketlabs_events.VALIDATION:
            logger.info("socketlabs validation request answered")
            return answer
        try:
            event = socketlabs_events.delivery_event(fields)
        except UnmappedEvent as exc:
            _unmapped("socketlabs", [str(exc)])
            return answer
        await self._handle(self._sent_by_us(event))
        return answer

    def _sent_by_us(self, event: DeliveryEvent) -> DeliveryEvent:
        """Webhook events do not say who sent the email: the service did, from its sender,
        which the forwarded notification's ``mail.source`` names as SES's does."""
        if event.mail.source or not self._sender:
            return event
        return replace(event, mail=replace(event.mail, source=self._sender))


def _unmapped(provider: str, reasons: Sequence[str]) -> Response:
    """200 all the same: the provider must stop posting what the service does not map."""
    if reasons:
        logger.info(
            "%d verified %s events mapped to nothing, e.g. %s", len(reasons), provider, reasons[0]
        )
    return JSONResponse({})
