"""The dependency-injector container: settings pick every adapter (providers.Selector)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.events.sendgrid import SendgridWebhookVerifier
from adapters.events.sns import SnsMessageVerifier
from adapters.events.socketlabs import SocketlabsNotificationVerifier
from adapters.metrics import counted_sink, counted_store, timed_providers
from adapters.queues.sqs import SqsConnection, SqsNotificationSink, SqsNotificationSource
from adapters.ratelimits.memory import MemoryRateLimiter
from adapters.ratelimits.redis import RedisRateLimiter
from adapters.ratelimits.sqlite import SqliteRateLimiter
from adapters.stores.authdb_http import AuthDbDeliveryProblemStore
from adapters.stores.authdb_mysql import MysqlDeliveryProblemStore
from adapters.stores.keys import KeyHasher
from adapters.stores.memory import MemoryDeliveryProblemStore, MemoryMessageDataStore
from adapters.stores.redis import (
    RedisConnection,
    RedisDeliveryProblemStore,
    RedisMessageDataStore,
)
from adapters.stores.sqlite import (
    SqliteDatabase,
    SqliteDeliveryProblemStore,
    SqliteMessageDataStore,
)
from config.providers import PROVIDERS, configured_providers, secret
from config.resources import Resources, owned, owned_each
from config.settings import Settings
from domain.limits import BounceLimits
from domain.model import Sender
from domain.notifications import HandleDeliveryEvent
from domain.ratelimits import RateLimits
from domain.reliers import Authenticator
from domain.sending import SendEmail
from ports.clock import Clock
from ports.health import HealthCheck
from ports.ratelimits import RateLimiter

logger = logging.getLogger(__name__)
_DAY = 86400


def _retention(limits: BounceLimits) -> int:
    """Own delivery-problem records live as long as the longest configured period."""
    return max(limits.longest_period_seconds, _DAY)


def _redis_password(settings: Settings) -> str | None:
    return secret(settings.redis.password)


def _sender(settings: Settings) -> Sender:
    return Sender(settings.sender.address, settings.sender.name)


def _sqs(settings: Settings) -> SqsConnection:
    aws, worker = settings.aws, settings.worker
    return SqsConnection(
        aws.region,
        access_key=secret(aws.keys.access),
        secret_key=secret(aws.keys.secret),
        timeout=aws.timeout,
        wait_seconds=worker.waitseconds,
        max_threads=len(aws.sqsurls.incoming) + worker.concurrency,
        retry_mode=aws.retrymode,
        max_attempts=aws.maxattempts,
    )


def _notification_sources(
    settings: Settings, sqs: SqsConnection, sns: SnsMessageVerifier | None
) -> list[SqsNotificationSource]:
    """One source per distinct incoming queue URL, however many kinds it serves."""
    wait = settings.worker.waitseconds
    check = sns.verify_blocking if settings.worker.verifysns and sns is not None else None
    return [SqsNotificationSource(sqs, url, wait, check) for url in settings.aws.sqsurls.incoming]


def _sns_verifier(settings: Settings, clock: Clock) -> SnsMessageVerifier | None:
    """None without ``sns.topics``: POST /events/sns then refuses every message."""
    sns = settings.sns
    if not sns.topics:
        return None
    return SnsMessageVerifier(
        settings.sns_certhost, frozenset(sns.topics), clock, sns.timeout, sns.cafile
    )


def _sendgrid_verifier(settings: Settings, clock: Clock) -> SendgridWebhookVerifier | None:
    key = settings.sendgrid.webhookkey
    return None if key is None else SendgridWebhookVerifier(key, clock)


def _socketlabs_verifier(settings: Settings) -> SocketlabsNotificationVerifier | None:
    socketlabs = settings.socketlabs
    secret_key, validation = secret(socketlabs.secretkey), secret(socketlabs.validationkey)
    if secret_key is None or validation is None:
        return None
    return SocketlabsNotificationVerifier(secret_key, validation, socketlabs.serverid)


def _notification_sink(settings: Settings, sqs: SqsConnection) -> SqsNotificationSink | None:
    """None when ``aws.sqsurls.notification`` is unset: notifications are not forwarded."""
    url = settings.aws.sqsurls.notification
    if url is None:
        return None
    return SqsNotificationSink(sqs, url, settings.aws.notificationformat)


def _authenticator(settings: Settings) -> Authenticator:
    auth = settings.auth
    return Authenticator(
        [k.to_domain() for k in auth.reliers],
        [k.to_domain() for k in auth.admins],
        required=auth.required,
    )


def _rate_limits(settings: Settings, limiter: RateLimiter, clock: Clock) -> RateLimits | None:
    limits = settings.ratelimits
    if not limits.enabled or (limits.relier is None and limits.recipient is None):
        return None
    return RateLimits(
        limiter,
        clock,
        None if limits.relier is None else limits.relier.to_domain(),
        None if limits.recipient is None else limits.recipient.to_domain(),
    )


class Container(containers.DeclarativeContainer):
    """Settings are read through ``settings.provided`` for one value, and by a function of
    the settings where several values build one adapter."""

    settings = providers.Dependency(instance_of=Settings)
    # Every client holding connections is registered here when built, and closed by
    # ``shutdown`` once (config/resources.py).
    resources = providers.Singleton(Resources)

    clock = providers.Singleton(SystemClock)
    hasher = providers.Singleton(
        KeyHasher, hmackey=settings.provided.hmackey.get_secret_value.call()
    )
    limits = providers.Singleton(settings.provided.bouncelimits.to_domain.call())
    retention = providers.Callable(_retention, limits)
    ttl = settings.provided.messagedata.ttl
    sender = providers.Singleton(_sender, settings)

    # One database (and its connections) shared by both SQLite stores, closed once.
    sqlite_db = providers.Singleton(
        owned,
        resources,
        "sqlite",
        providers.Factory(
            SqliteDatabase,
            path=settings.provided.sqlite.path,
            busy_timeout_ms=settings.provided.sqlite.busytimeout,
        ),
    )

    # One client and connection pool per process, shared by both Redis stores.
    redis_conn = providers.Singleton(
        owned,
        resources,
        "redis",
        providers.Factory(
            RedisConnection,
            host=settings.provided.redis.host,
            port=settings.provided.redis.port,
            db=settings.provided.redis.db,
            password=providers.Callable(_redis_password, settings),
            timeout=settings.provided.redis.timeout,
        ),
    )

    delivery_problems = providers.Selector(
        settings.provided.deliveryproblems.backend,
        memory=providers.Singleton(MemoryDeliveryProblemStore, hasher, clock, retention),
        sqlite=providers.Singleton(SqliteDeliveryProblemStore, sqlite_db, hasher, clock, retention),
        redis=providers.Singleton(RedisDeliveryProblemStore, redis_conn, hasher, clock, retention),
        # These two stores own their HTTP client and connection pool.
        authdb=providers.Singleton(
            owned,
            resources,
            "deliveryproblems",
            providers.Factory(
                AuthDbDeliveryProblemStore,
                baseuri=settings.provided.authdb.baseuri,
                timeout=settings.provided.authdb.timeout,
                clock=clock,
            ),
        ),
        mysql=providers.Singleton(
            owned,
            resources,
            "deliveryproblems",
            providers.Factory(
                MysqlDeliveryProblemStore,
                url=settings.provided.mysql.url.get_secret_value.call(),
                poolsize=settings.provided.mysql.poolsize,
                timeout=settings.provided.mysql.timeout,
                clock=clock,
            ),
        ),
    )

    message_data = providers.Selector(
        settings.provided.messagedata.backend,
        memory=providers.Singleton(MemoryMessageDataStore, hasher, clock, ttl),
        sqlite=providers.Singleton(SqliteMessageDataStore, sqlite_db, hasher, clock, ttl),
        redis=providers.Singleton(RedisMessageDataStore, redis_conn, hasher, clock, ttl),
    )

    # Token buckets live in the delivery-problem store's backend; the accounts database has
    # no room for them, so with it they use the service's own SQLite file.
    rate_limiter = providers.Selector(
        settings.provided.deliveryproblems.backend,
        memory=providers.Singleton(MemoryRateLimiter, hasher),
        sqlite=providers.Singleton(SqliteRateLimiter, sqlite_db, hasher),
        redis=providers.Singleton(RedisRateLimiter, redis_conn, hasher),
        authdb=providers.Singleton(SqliteRateLimiter, sqlite_db, hasher),
        mysql=providers.Singleton(SqliteRateLimiter, sqlite_db, hasher),
    )
    rate_limits = providers.Singleton(_rate_limits, settings, rate_limiter, clock)
    authenticator = providers.Singleton(_authenticator, settings)

    # The registry (config/providers.py) builds each configured provider; tests replace the
    # mock here.
    mock_provider = providers.Singleton(PROVIDERS["mock"].build, settings, sender)
    email_providers = providers.Singleton(
        owned_each,
        resources,
        "provider",
        providers.Factory(configured_providers, settings, sender, mock=mock_provider),
    )

    # What the domain services see: the same adapters, counted for /__metrics__.
    counted_problems = providers.Singleton(counted_store, delivery_problems, "deliveryproblems")
    counted_messages = providers.Singleton(counted_store, message_data, "messagedata")

    send_email = providers.Singleton(
        SendEmail,
        providers=providers.Singleton(timed_providers, email_providers),
        problems=counted_problems,
        messages=counted_messages,
        limits=limits,
        clock=clock,
        # (``.provided.provider`` would name the ProvidedInstance's own attribute)
        default_provider=providers.Callable(lambda s: s.provider.default, settings),
        force_default=providers.Callable(lambda s: s.provider.forcedefault, settings),
        rate_limits=rate_limits,
    )

    # The notification worker (`fxa-email-service queues`).
    sqs = providers.Singleton(owned, resources, "sqs", providers.Factory(_sqs, settings))
    # Event webhooks (docs/events.md): each None while its provider-side keys are unset.
    sns_verifier = providers.Singleton(
        owned, resources, "sns", providers.Factory(_sns_verifier, settings, clock)
    )
    sendgrid_verifier = providers.Singleton(_sendgrid_verifier, settings, clock)
    socketlabs_verifier = providers.Singleton(_socketlabs_verifier, settings)
    notification_sources = providers.Singleton(_notification_sources, settings, sqs, sns_verifier)
    notification_sink = providers.Singleton(_notification_sink, settings, sqs)
    # One service for delivery events from every source (docs/notifications.md).
    handle_delivery_event = providers.Singleton(
        HandleDeliveryEvent,
        problems=counted_problems,
        messages=counted_messages,
        sink=providers.Singleton(counted_sink, notification_sink),
        clock=clock,
    )


def build_container(settings: Settings) -> Container:
    container = Container(settings=providers.Object(settings))
    return container


def _in_use(container: Container) -> dict[str, Any]:
    """The adapters this deployment uses, by the name /__heartbeat__ reports."""
    used: dict[str, Any] = {
        "deliveryproblems": container.delivery_problems(),
        "messagedata": container.message_data(),
    }
    for name, provider in container.email_providers().items():
        used[f"provider.{name}"] = provider
    if container.sns_verifier() is not None:
        used["events.sns"] = container.sns_verifier()
    return used


def health_checks(container: Container) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
    return [(name, a.ping) for name, a in _in_use(container).items() if isinstance(a, HealthCheck)]


async def shutdown(container: Container) -> None:
    """Close what this process opened, each client once (``serve`` and ``queues`` alike)."""
    await container.resources().aclose()
