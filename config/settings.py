"""The settings model: every key, its default and its validation (docs/configuration.md).

Defaults live here and only here; ``config/<env>.json``, ``./config/local.json`` and
``FXA_EMAIL_*`` variables layer over them (``config/layering.py``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from adapters.events.sendgrid import load_public_key
from config.errors import ConfigError
from config.layering import LayeredJsonSource
from config.providers import PROVIDERS
from config.redaction import redact
from domain.addresses import normalise_address
from domain.buckets import TokenBucket
from domain.errors import InvalidPayload
from domain.limits import BounceLimits, LimitRule, parse_period
from domain.model import ProblemType
from domain.reliers import KeyRecord

DEFAULT_HMACKEY = "YOU MUST CHANGE ME"
Env = Literal["dev", "test", "stage", "prod"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(Section):
    default: str = "mock"
    forcedefault: bool = False

    @field_validator("default")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r} (one of {', '.join(PROVIDERS)})")
        return value


class SenderSettings(Section):
    address: str = "accounts@example.com"
    name: str = "Firefox Accounts"

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return normalise_address(value, "address")
        except InvalidPayload:
            raise ValueError("not an email address") from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain CR or LF")
        return value


# A period as written ("5 minutes", "day"), parsed once, when read, into seconds.
Period = Annotated[int, BeforeValidator(parse_period)]


class LimitRuleSettings(Section):
    period: Period
    limit: int = Field(ge=0)

    def to_domain(self) -> LimitRule:
        return LimitRule(self.period, self.limit)


def _rule(period: str, limit: int) -> LimitRuleSettings:
    return LimitRuleSettings.model_validate({"period": period, "limit": limit})


class BounceLimitSettings(Section):
    enabled: bool = True
    complaint: tuple[LimitRuleSettings, ...] = (_rule("day", 0), _rule("year", 1))
    hard: tuple[LimitRuleSettings, ...] = (_rule("day", 0), _rule("year", 1))
    soft: tuple[LimitRuleSettings, ...] = (_rule("5 minutes", 0),)

    def to_domain(self) -> BounceLimits:
        return BounceLimits(
            enabled=self.enabled,
            rules={
                ProblemType.COMPLAINT: tuple(r.to_domain() for r in self.complaint),
                ProblemType.HARD_BOUNCE: tuple(r.to_domain() for r in self.hard),
                ProblemType.SOFT_BOUNCE: tuple(r.to_domain() for r in self.soft),
            },
        )


class DeliveryProblemSettings(Section):
    backend: Literal["sqlite", "redis", "authdb", "mysql", "memory"] = "sqlite"


class MessageDataSettings(Section):
    backend: Literal["sqlite", "redis", "memory"] = "sqlite"
    ttl: Period = parse_period("30 days")


class SqliteSettings(Section):
    path: str = "var/fxa-email.sqlite3"
    busytimeout: int = Field(default=10000, ge=0)


class RedisSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    password: SecretStr | None = None
    timeout: float = Field(default=2.0, gt=0)


class AuthDbSettings(Section):
    baseuri: str = "http://127.0.0.1:8000/"
    timeout: float = Field(default=5.0, gt=0)

    @field_validator("baseuri")
    @classmethod
    def _baseuri(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value if value.endswith("/") else value + "/"


class MysqlSettings(Section):
    url: SecretStr = SecretStr("mysql://root@127.0.0.1:3306/fxa")
    poolsize: int = Field(default=10, ge=1)
    timeout: float = Field(default=5.0, gt=0)


class AwsKeys(Section):
    access: SecretStr | None = None
    secret: SecretStr | None = None


class SqsUrls(Section):
    bounce: str | None = None
    complaint: str | None = None
    delivery: str | None = None
    notification: str | None = None

    @field_validator("bounce", "complaint", "delivery", "notification")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None  # an empty variable unsets the queue
        if not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _no_loop(self) -> SqsUrls:
        if self.notification is not None and self.notification in self.incoming:
            raise ValueError("notification must not be an incoming queue (it would loop)")
        return self

    @property
    def incoming(self) -> list[str]:
        """Each distinct incoming queue URL once, in bounce, complaint, delivery order."""
        urls = (self.bounce, self.complaint, self.delivery)
        return list(dict.fromkeys(url for url in urls if url))


class AwsSettings(Section):
    region: str = "us-east-1"
    keys: AwsKeys = AwsKeys()
    sqsurls: SqsUrls = SqsUrls()
    # how forwarded notifications are written on aws.sqsurls.notification: in an SNS-style
    # envelope (what the auth server's queue reader parses) or as the bare JSON
    notificationformat: Literal["sns", "raw"] = "sns"
    timeout: float = Field(default=10.0, gt=0)
    # botocore's own retry modes; attempts include the first try
    retrymode: Literal["standard", "adaptive"] = "standard"
    maxattempts: int = Field(default=3, ge=1)


class SendgridSettings(Section):
    key: SecretStr | None = None
    baseuri: str = "https://api.sendgrid.com"
    timeout: float = Field(default=10.0, gt=0)
    # the Signed Event Webhook's verification key (base64 DER, ECDSA P-256): POST
    # /events/sendgrid refuses every post while it is unset (docs/events.md)
    webhookkey: str | None = None

    @field_validator("webhookkey")
    @classmethod
    def _webhookkey(cls, value: str | None) -> str | None:
        if not value:
            return None
        load_public_key(value)  # ValueError: names what is wrong with it
        return value.strip()


class SmtpSettings(Section):
    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    security: Literal["none", "starttls", "tls"] = "none"
    cafile: str | None = None  # trust this CA bundle (PEM) instead of the system's
    timeout: float = Field(default=10.0, gt=0)


class SocketlabsSettings(Section):
    serverid: int | None = None
    key: SecretStr | None = None
    baseuri: str = "https://inject.socketlabs.com/api/v1/email"
    timeout: float = Field(default=10.0, gt=0)
    # the Notification API's keys: POST /events/socketlabs refuses every post while the
    # secret key is unset, and answers with the validation key (docs/events.md)
    secretkey: SecretStr | None = None
    validationkey: SecretStr | None = None

    @model_validator(mode="after")
    def _keys_together(self) -> SocketlabsSettings:
        if (self.secretkey is None) != (self.validationkey is None):
            raise ValueError("secretkey and validationkey: set both or neither")
        return self


class SnsSettings(Section):
    """SNS HTTP(S) subscriptions on POST /events/sns (docs/events.md)."""

    certhost: str | None = None  # the SigningCertURL host; sns.<aws.region>.amazonaws.com
    topics: list[str] = []  # topic ARNs accepted (and confirmed); none: every post refused
    cafile: str | None = None  # trust this CA bundle (PEM) for the certificate download
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        for topic in value:
            if not topic.startswith("arn:"):
                raise ValueError(f"{topic[:60]!r} is not a topic ARN")
        return value


class MockSettings(Section):
    outbox: str = "var/outbox"


class LimitsSettings(Section):
    maxbody: int = Field(default=1024 * 1024, ge=1)
    maxrecipients: int = Field(default=50, ge=1)
    # Every connection's bounds (docs/configuration.md): seconds, bytes and a count.
    headertimeout: float = Field(default=10.0, gt=0)
    bodytimeout: float = Field(default=30.0, gt=0)
    maxheaderbytes: int = Field(default=64 * 1024, ge=1024)
    keepalive: float = Field(default=5.0, gt=0)
    maxconnections: int = Field(default=1000, ge=1)


class WorkerSettings(Section):
    """The notification worker (`fxa-email-service queues`)."""

    waitseconds: int = Field(default=20, ge=0, le=20)  # SQS long polling, at most 20
    concurrency: int = Field(default=10, ge=1)  # messages handled at once, all queues
    reportinterval: float = Field(default=60.0, gt=0)  # seconds between logged counts
    metricsport: int | None = Field(default=None, ge=1, le=65535)  # off unless set
    # accept only SNS envelopes whose signature verifies as on POST /events/sns
    verifysns: bool = False


class SentrySettings(Section):
    """Error reporting (docs/operations.md, Sentry): off unless ``dsn`` is set."""

    dsn: SecretStr | None = None
    environment: str | None = None  # default: the setting env

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable turns reporting off
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value


class KeySettings(Section):
    """One bearer key: whose (``id``) and its SHA-256 hex (``keyhash``), never the key."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    keyhash: SecretStr  # not the key, but no business in the logged configuration either
    revoked: bool = False

    @field_validator("keyhash")
    @classmethod
    def _keyhash(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value()):
            raise ValueError("not a SHA-256 hex digest (fxa-email-service keygen prints one)")
        return SecretStr(value.get_secret_value().lower())

    def to_domain(self) -> KeyRecord:
        return KeyRecord(self.id, self.keyhash.get_secret_value(), self.revoked)


class AuthSettings(Section):
    """Relier and admin keys (docs/reliers.md); ``required`` is true in stage and prod."""

    required: bool = False
    reliers: list[KeySettings] = []
    admins: list[KeySettings] = []

    @model_validator(mode="after")
    def _distinct(self) -> AuthSettings:
        hashes = [k.keyhash.get_secret_value() for k in (*self.reliers, *self.admins)]
        if len(set(hashes)) != len(hashes):
            raise ValueError("the same keyhash is given twice")
        return self


class BucketSettings(Section):
    """``rate`` tokens every ``per``, at most ``burst`` held (docs/reliers.md)."""

    rate: int = Field(ge=1)
    per: Period
    burst: int = Field(ge=1)

    def to_domain(self) -> TokenBucket:
        return TokenBucket(self.rate, self.per, self.burst)


class RelierBucketSettings(BucketSettings):
    rate: int = Field(default=50, ge=1)
    per: Period = parse_period("second")
    burst: int = Field(default=100, ge=1)


class RecipientBucketSettings(BucketSettings):
    rate: int = Field(default=20, ge=1)
    per: Period = parse_period("hour")
    burst: int = Field(default=20, ge=1)


class RateLimitSettings(Section):
    """Token buckets per relier and per recipient address; ``null`` turns one off."""

    enabled: bool = True
    relier: RelierBucketSettings | None = RelierBucketSettings()
    recipient: RecipientBucketSettings | None = RecipientBucketSettings()


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["mozlog", "pretty"] = "mozlog"


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings()``."""

    model_config = SettingsConfigDict(
        env_prefix="FXA_EMAIL_",
        env_nested_delimiter="_",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    env: Env = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)  # `serve` processes sharing the port
    provider: ProviderSettings = ProviderSettings()
    sender: SenderSettings = SenderSettings()
    hmackey: SecretStr = SecretStr(DEFAULT_HMACKEY)
    bouncelimits: BounceLimitSettings = BounceLimitSettings()
    deliveryproblems: DeliveryProblemSettings = DeliveryProblemSettings()
    messagedata: MessageDataSettings = MessageDataSettings()
    sqlite: SqliteSettings = SqliteSettings()
    redis: RedisSettings = RedisSettings()
    authdb: AuthDbSettings = AuthDbSettings()
    mysql: MysqlSettings = MysqlSettings()
    aws: AwsSettings = AwsSettings()
    sendgrid: SendgridSettings = SendgridSettings()
    smtp: SmtpSettings = SmtpSettings()
    socketlabs: SocketlabsSettings = SocketlabsSettings()
    sns: SnsSettings = SnsSettings()
    mock: MockSettings = MockSettings()
    limits: LimitsSettings = LimitsSettings()
    worker: WorkerSettings = WorkerSettings()
    log: LogSettings = LogSettings()
    sentry: SentrySettings = SentrySettings()
    versionfile: str | None = None  # the deployment's version.json; else ./version.json
    auth: AuthSettings = AuthSettings()
    ratelimits: RateLimitSettings = RateLimitSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, LayeredJsonSource(settings_cls))

    @property
    def sns_certhost(self) -> str:
        """The only host an SNS ``SigningCertURL`` or ``SubscribeURL`` may name."""
        return self.sns.certhost or f"sns.{self.aws.region}.amazonaws.com"

    def check_deployment(self) -> None:
        if self.worker.verifysns and not self.sns.topics:
            raise ConfigError("worker.verifysns: needs sns.topics (every envelope would fail)")
        key = self.hmackey.get_secret_value().strip()
        if self.env == "prod" and key in ("", DEFAULT_HMACKEY):
            raise ConfigError("hmackey: the default (or an empty) key is not allowed in env prod")
        if not PROVIDERS[self.provider.default].is_configured(self):
            raise ConfigError(
                f"provider.default: {self.provider.default} is not configured "
                f"(its settings are missing)"
            )

    def redacted(self) -> dict[str, Any]:
        """The effective configuration with every secret replaced by ``[hidden]``."""
        redacted: dict[str, Any] = redact(self.model_dump(mode="python"))
        return redacted


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration; raise ConfigError with one line naming the bad key."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "configuration"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"{key}: {message}") from None
    settings.check_deployment()
    return settings
