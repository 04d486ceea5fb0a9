"""The store wrapper that counts failing calls (adapters/metrics.py, docs/operations.md)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from adapters.metrics import CountedStore
from domain.errors import StoreError


class Store:
    opened = 0

    async def put(self, key: str, value: str | None = None) -> str:
        return f"{key}={value}"

    @property
    def connection(self) -> str:
        type(self).opened += 1  # what a lazily opened connection would do
        return "open"

    def name(self) -> str:
        return "store"


def counter() -> tuple[Counter, CollectorRegistry]:
    registry = CollectorRegistry()
    return Counter("test_store_errors", "errors", ["store"], registry=registry), registry


def counted_errors(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("test_store_errors_total", {"store": "messages"})


async def test_a_call_goes_to_the_store_and_its_failure_is_counted() -> None:
    errors, registry = counter()
    store = Store()
    counted = CountedStore(store, errors, "messages")

    assert await counted.put("k", value="v") == "k=v"
    assert counted_errors(registry) == 0

    async def failing(key: str, value: str | None = None) -> str:
        raise StoreError("down")

    store.put = failing  # type: ignore[method-assign]  # replaced after wrapping
    try:
        await counted.put("k")
    except StoreError:
        pass
    else:
        raise AssertionError("the replaced method was not called")
    assert counted_errors(registry) == 1


def test_wrapping_runs_no_property_and_leaves_the_rest_as_it_is() -> None:
    Store.opened = 0
    counted = CountedStore(Store(), counter()[0], "messages")

    assert Store.opened == 0
    assert counted.connection == "open"
    assert counted.name() == "store"  # a plain method is the store's own
