"""The support API (docs/reliers.md): look up and clear an address's delivery problems.

Only ``auth.admins`` keys are accepted, whatever ``auth.required`` says. Every call is
logged with the admin's id and the address's store key (its HMAC), never the address.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.container import Container
from domain.addresses import normalise_address
from domain.errors import InternalError, ServiceError
from domain.model import DeliveryProblem
from entrypoints.summary import annotate

logger = logging.getLogger(__name__)
ROUTE = "/problems/{address}"


def problem_json(problem: DeliveryProblem) -> dict[str, Any]:
    """type, subtype, createdAt and, where the store knows it, the provider."""
    return {**problem.to_json(), "provider": getattr(problem, "provider", None)}


def support_routes(container: Container) -> list[Route]:
    authenticator = container.authenticator()
    hasher = container.hasher()
    settings = container.settings()

    async def problems(request: Request) -> Response:
        from entrypoints.http import error_response, http_status  # the one JSON error shape

        action = "look up" if request.method in ("GET", "HEAD") else "clear"
        try:
            admin = authenticator.admin(request.headers.get("authorization"))
            annotate(admin=admin)
            address = normalise_address(request.path_params["address"], "address")
            store = container.delivery_problems()
            logger.info(
                "support: admin %s asked to %s the delivery problems of %s",
                admin,
                action,
                hasher.address(address),
            )
            if action == "clear":
                cleared = await store.clear(address)
                logger.info("support: admin %s cleared %d records", admin, cleared)
                return JSONResponse({"address": address, "cleared": cleared})
            found = await store.fetch(address)
        except ServiceError as error:
            if http_status(error) >= 500:
                logger.error("support failed: errno %s: %s", error.errno, error.message)
            return error_response(error)
        except Exception:
            logger.exception("support failed unexpectedly")
            return error_response(InternalError("internal error"))
        return JSONResponse(
            {
                "address": address,
                "backend": settings.deliveryproblems.backend,
                "problems": [problem_json(p) for p in found],
            }
        )

    return [Route(ROUTE, problems, methods=["GET", "HEAD", "DELETE"])]
