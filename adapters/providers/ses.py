"""Amazon SES: the shared MIME message sent raw through boto3, in a bounded worker thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio

from adapters.providers.mime import MimeWriter
from domain.errors import ProviderError
from domain.model import Email, Sender

logger = logging.getLogger(__name__)


class SesEmailProvider:
    """One boto3 SES client per process; botocore's retry mode handles throttling.

    The endpoint is boto3's to choose: ``AWS_ENDPOINT_URL_SES`` / ``AWS_ENDPOINT_URL`` are
    honoured because no ``endpoint_url`` is passed. Credentials are the configured keys, else
    boto3's default chain.
    """

    name = "ses"

    def __init__(
        self,
        sender: Sender,
        region: str,
        timeout: float,
        access_key: str | None = None,
        secret_key: str | None = None,
        retry_mode: str = "standard",
        max_attempts: int = 3,
        max_concurrency: int = 10,
    ) -> None:
        self._sender = sender
        self._writer = MimeWriter(sender)
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._config_args: dict[str, Any] = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"mode": retry_mode, "total_max_attempts": max_attempts},
            "max_pool_connections": max_concurrency,
        }
        self._session_args: dict[str, Any] = {"region_name": region}
        if access_key and secret_key:
            self._session_args["aws_access_key_id"] = access_key
            self._session_args["aws_secret_access_key"] = secret_key
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _ses(self) -> Any:
        """The process's one client, made on first use in a worker thread (it takes ~0.1 s of
        CPU, which neither the event loop nor a deployment that never sends through SES pays).
        """
        with self._client_lock:
            if self._client is None:
                # Imported here too: boto3 costs ~8 MB of memory to a process without SES.
                import boto3
                from botocore.config import Config

                # A session of its own: boto3's default session is not thread-safe.
                session = boto3.session.Session(**self._session_args)
                self._client = session.client("ses", config=Config(**self._config_args))
            return self._client

    def _send_raw(self, email: Email) -> Any:
        # Built here, in the worker thread the send needs anyway: never on the event loop.
        raw = self._writer.write(email)
        client = self._ses()
        from botocore.exceptions import BotoCoreError, ClientError  # loaded by _ses()

        try:
            return client.send_raw_email(
                Source=self._sender.address,
                Destinations=list(email.recipients),
                RawMessage={"Data": raw},
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise ProviderError(
                f"ses refused the message: {error.get('Code', 'unknown')} (HTTP {status})",
                name=self.name,
            ) from exc
        except BotoCoreError as exc:
            raise ProviderError(f"ses failed: {type(exc).__name__}", name=self.name) from exc

    async def send(self, email: Email) -> str:
        response = await anyio.to_thread.run_sync(self._send_raw, email, limiter=self._limiter)
        return str(response["MessageId"])

    async def aclose(self) -> None:
        if self._client is not None:
            self._client.close()
