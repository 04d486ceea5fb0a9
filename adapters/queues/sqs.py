"""SQS through boto3: the incoming notification queues and the outgoing one.

boto3 blocks, so every call runs in a worker thread behind one bounded limiter. Clients are
made once per process (one per endpoint) and shared by every queue.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from adapters.queues.ses_notifications import EnvelopeCheck, incoming
from domain.errors import QueueError
from ports.queues import IncomingMessage, ReceivedEvent

_T = TypeVar("_T")

MAX_BATCH = 10  # SQS's limit for receive_message and the batch calls
MAX_BATCH_BYTES = 262_144  # SQS's limit for all the bodies of one send_message_batch
# The envelope's TopicArn: no SNS topic is involved, the name says who wrote it.
ENVELOPE_TOPIC = "fxa-email-service"


def queue_name(url: str) -> str:
    """The last path segment of a queue URL: what logs show."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or url


def _is_aws(host: str | None) -> bool:
    return host is not None and host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


class SqsConnection:
    """The process's SQS clients and the limiter that bounds their threads.

    The endpoint is botocore's (``AWS_ENDPOINT_URL_SQS``, ``AWS_ENDPOINT_URL``, the config
    file, else AWS). When that is AWS's own but a queue URL points elsewhere (a local SQS,
    moto), calls about that queue go to the queue URL's origin.
    """

    def __init__(
        self,
        region: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        timeout: float = 10.0,
        wait_seconds: int = 20,
        max_threads: int = 16,
        retry_mode: str = "standard",
        max_attempts: int = 3,
    ) -> None:
        self._region = region
        self._credentials = (
            {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
            if access_key and secret_key
            else {}
        )
        self._config_args: dict[str, Any] = {
            "connect_timeout": timeout,
            "read_timeout": max(timeout, wait_seconds + 5),  # a long poll must not time out
            "retries": {"mode": retry_mode, "total_max_attempts": max_attempts},
            "max_pool_connections": max_threads,
        }
        self._max_threads = max_threads
        self._lock = threading.Lock()
        self._clients: dict[str | None, Any] = {}
        self._by_url: dict[str, Any] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    def _client(self, endpoint: str | None) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe while creating clients
            client = self._clients.get(endpoint)
            if client is None:
                # Imported here: boto3 costs ~8 MB to a `serve` process that never uses SQS.
                import boto3
                from botocore.config import Config

                session = boto3.session.Session(region_name=self._region, **self._credentials)
                client = session.client(
                    "sqs", endpoint_url=endpoint, config=Config(**self._config_args)
                )
                self._clients[endpoint] = client
            return client

    def client_for(self, queue_url: str) -> Any:
        client = self._by_url.get(queue_url)
        if client is None:
            client = self._by_url[queue_url] = self._client(self._endpoint_for(queue_url))
        return client

    def _endpoint_for(self, queue_url: str) -> str | None:
        default = self._client(None)
        if not _is_aws(urlsplit(default.meta.endpoint_url).hostname):
            return None  # an endpoint was configured: honour it
        parts = urlsplit(queue_url)
        return None if _is_aws(parts.hostname) else f"{parts.scheme}://{parts.netloc}"

    async def aclose(self) -> None:
        with self._lock:
            clients, self._clients, self._by_url = list(self._clients.values()), {}, {}
        for client in clients:
            client.close()

    async def call(self, queue_url: str, method: str, **kwargs: Any) -> dict[str, Any]:
        """Call ``method`` of the queue's client in a thread; QueueError on any failure."""
        return await self.call_then(queue_url, method, _response, **kwargs)

    async def call_then(
        self,
        queue_url: str,
        method: str,
        then: Callable[[dict[str, Any]], _T],
        abandonable: bool = False,
        **kwargs: Any,
    ) -> _T:
        """``then(response)`` of ``method``, both in the same thread; QueueError on failure.

        An ``abandonable`` call (a long poll) runs in a daemon thread of its own: a
        cancelled caller stops waiting at once and the process may exit without waiting
        for it. Its result is dropped; a receive's messages become visible again after
        the visibility timeout.
        """
        func = partial(self._sync_call, queue_url, method, then, kwargs)
        if abandonable:
            return await _in_daemon_thread(func)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_threads)
        return await anyio.to_thread.run_sync(func, limiter=self._limiter)

    def _sync_call(
        self,
        queue_url: str,
        method: str,
        then: Callable[[dict[str, Any]], _T],
        kwargs: dict[str, Any],
    ) -> _T:
        from botocore.exceptions import BotoCoreError, ClientError  # in this thread, not the loop

        try:
            client = self.client_for(queue_url)
            response: dict[str, Any] = getattr(client, method)(QueueUrl=queue_url, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"SQS {method} on {queue_name(queue_url)} failed: {exc}") from exc
        return then(response)


def _response(response: dict[str, Any]) -> dict[str, Any]:
    return response


async def _in_daemon_thread(func: Callable[[], _T]) -> _T:
    """``func()`` in a new daemon thread (boto3 calls cannot be interrupted; see above)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if future.done():  # the caller was cancelled: drop the result
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = func(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting task
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name="sqs long poll", daemon=True).start()
    return await future


class SqsNotificationSource:
    """An incoming SQS queue of SES notifications, long-polled."""

    def __init__(
        self,
        sqs: SqsConnection,
        url: str,
        wait_seconds: int = 20,
        check_envelope: EnvelopeCheck | None = None,
    ) -> None:
        self._sqs = sqs
        self.url = url
        self._wait = wait_seconds
        self._name = queue_name(url)
        self._check_envelope = check_envelope  # worker.verifysns: runs in the receiving thread

    @property
    def name(self) -> str:
        return self._name

    async def receive(self) -> Sequence[IncomingMessage]:
        """A long poll; cancelling it returns at once (its messages come back later).

        The bodies are parsed in the receiving thread: a batch of large notifications never
        holds the event loop.
        """
        return await self._sqs.call_then(
            self.url,
            "receive_message",
            self._parse,
            abandonable=True,
            MaxNumberOfMessages=MAX_BATCH,
            WaitTimeSeconds=self._wait,
        )

    def _parse(self, response: dict[str, Any]) -> list[IncomingMessage]:
        return [
            incoming(
                self._name,
                str(message.get("MessageId", "?")),
                str(message.get("ReceiptHandle", "")),
                str(message.get("Body", "")),
                str(message.get("MD5OfBody", "")),
                self._check_envelope,
            )
            for message in response.get("Messages", [])
        ]

    async def delete(self, messages: Sequence[ReceivedEvent]) -> Sequence[ReceivedEvent]:
        failed: list[ReceivedEvent] = []
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
            response = await self._sqs.call(self.url, "delete_message_batch", Entries=entries)
            failed.extend(chunk[int(entry["Id"])] for entry in response.get("Failed", []))
        return failed


@dataclass(slots=True)
class _Outgoing:
    body: str
    done: anyio.Event = field(default_factory=anyio.Event)
    error: QueueError | None = None


class SqsNotificationSink:
    """The outgoing SQS queue: one message per notification (docs/notifications.md).

    ``format`` ``sns`` (the default) wraps the notification's JSON as the ``Message`` string
    of an SNS-style notification envelope, because the auth server's queue reader parses
    ``JSON.parse(JSON.parse(body).Message)``; ``raw`` sends the bare JSON.

    Sends that arrive together (the worker handles a batch concurrently) leave in one
    ``send_message_batch`` call: the first waits up to ``linger`` seconds for company, less
    once ten are waiting. One call instead of ten saves nine thread hops and requests.
    """

    def __init__(
        self, sqs: SqsConnection, url: str, format: str = "sns", linger: float = 0.002
    ) -> None:
        self._sqs = sqs
        self.url = url
        self.envelope = format == "sns"
        self._linger = linger
        self._waiting: list[_Outgoing] = []
        self._full: anyio.Event | None = None

    async def send(self, notification: Mapping[str, object]) -> None:
        body = json.dumps(notification, separators=(",", ":"))  # ASCII only
        item = _Outgoing(sns_envelope(body) if self.envelope else body)
        self._waiting.append(item)
        if len(self._waiting) == 1:
            with anyio.CancelScope(shield=True):  # the others wait on what this task sends
                await self._lead()
        elif len(self._waiting) >= MAX_BATCH and self._full is not None:
            self._full.set()
        await item.done.wait()
        if item.error is not None:
            raise item.error

    async def _lead(self) -> None:
        self._full = full = anyio.Event()
        with anyio.move_on_after(self._linger):
            await full.wait()
        while self._waiting:
            batch = _take_batch(self._waiting)
            del self._waiting[: len(batch)]
            await self._send_batch(batch)

    async def _send_batch(self, batch: list[_Outgoing]) -> None:
        entries = [{"Id": str(i), "MessageBody": item.body} for i, item in enumerate(batch)]
        try:
            response = await self._sqs.call(self.url, "send_message_batch", Entries=entries)
            for entry in response.get("Failed", []):
                batch[int(entry["Id"])].error = QueueError(
                    f"SQS refused a message for {queue_name(self.url)}: {entry.get('Code')}"
                )
        except QueueError as exc:
            for item in batch:
                item.error = exc
        for item in batch:
            item.done.set()


def sns_envelope(message: str) -> str:
    """``message`` as the ``Message`` of an SNS notification, as SNS delivers one to SQS."""
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": ENVELOPE_TOPIC,
        "Message": message,
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return json.dumps(envelope, separators=(",", ":"))


def _take_batch(waiting: list[_Outgoing]) -> list[_Outgoing]:
    """The first messages that fit one batch call: at most 10 and 256 KiB in all."""
    batch: list[_Outgoing] = []
    size = 0
    for item in waiting[:MAX_BATCH]:
        size += len(item.body)
        if batch and size > MAX_BATCH_BYTES:
            break
        batch.append(item)
    return batch
