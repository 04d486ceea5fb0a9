"""Builds the real app over a container for in-process HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from config.container import Container, build_container
from config.settings import load_settings
from entrypoints.http import create_app

MEMORY_STORES: dict[str, Any] = {
    "deliveryproblems": {"backend": "memory"},
    "messagedata": {"backend": "memory"},
}


def make_container(**overrides: Any) -> Container:
    settings = {"hmackey": "test key", **MEMORY_STORES, **overrides}
    return build_container(load_settings(**settings))


@asynccontextmanager
async def client_for(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client
