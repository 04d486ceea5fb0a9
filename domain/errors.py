"""One base error; each subclass carries its errno (docs/api.md, errors).

How an errno is answered over HTTP is the HTTP edge's business: see ``entrypoints/http.py``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error the service reports to a caller.

    ``extra`` holds the additional JSON fields the contract attaches to this errno.
    """

    errno: int = 100

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: dict[str, Any] = extra


class InternalError(ServiceError):
    errno = 100


class InvalidPayload(ServiceError):
    errno = 101

    def __init__(self, message: str, field: str | None = None) -> None:
        if field is None:
            super().__init__(message)
        else:
            super().__init__(message, field=field)
        self.field = field


class UnknownProvider(ServiceError):
    errno = 103

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message, name=name)
        self.name = name


class ProviderError(ServiceError):
    """The provider failed, refused or timed out. Adapters raise this for every SDK error."""

    errno = 104

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message, name=name)
        self.name = name


class LimitViolation(ServiceError):
    """A recipient breaks a delivery-problem limit (errno 106/107/108)."""


class ComplaintLimitViolation(LimitViolation):
    errno = 106


class SoftBounceLimitViolation(LimitViolation):
    errno = 107


class HardBounceLimitViolation(LimitViolation):
    errno = 108


class StoreError(ServiceError):
    """The service's own store (Redis, SQLite, MySQL) failed."""

    errno = 117


class AccountsDbError(StoreError):
    """The accounts database (HTTP API or MySQL) failed."""

    errno = 109


class QueueError(ServiceError):
    """An incoming or outgoing notification queue failed (worker only, never an HTTP answer)."""

    errno = 100


class BodyTooLarge(ServiceError):
    errno = 121


class UnsupportedMediaType(ServiceError):
    errno = 122


class RouteNotFound(ServiceError):
    errno = 123


class MethodNotAllowed(ServiceError):
    errno = 123


class Unauthorized(ServiceError):
    errno = 124


class RateLimited(ServiceError):
    errno = 125

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class UnverifiedEvent(ServiceError):
    """An event webhook whose signature, certificate, key or topic does not verify.

    The message says which check failed, for the logs; callers answer a generic 403.
    """

    errno = 128


class RecordsNotClearable(ServiceError):
    """The delivery-problem backend is the accounts database, which offers no deletion."""

    errno = 129

    def __init__(self, message: str, backend: str) -> None:
        super().__init__(message, backend=backend)
        self.backend = backend
