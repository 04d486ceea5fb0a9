"""The OpenAPI document (entrypoints/openapi.yaml) and the app agree: routes, fields, errnos.

A failure here names what to add to the document: a new route belongs in ``paths`` with
its request schema and a response for every status it answers, and a new errno in
``components.schemas.Errno`` and in the error response of its status.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from starlette.routing import Route

from entrypoints.http import HTTP_STATUS, create_app, openapi_document
from entrypoints.requests import Body, SendRequest
from tests.http_app import client_for, make_container

DOCUMENT = openapi_document()
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def deref(node: Any) -> Any:
    """``node`` with a top-level ``$ref`` followed (local references only)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def app_operations() -> set[tuple[str, str]]:
    app = create_app(make_container())
    return {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


def document_operations() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in METHODS and method != "head"
    }


def test_every_route_of_the_app_is_documented() -> None:
    missing = app_operations() - document_operations()
    assert not missing, f"add these operations to entrypoints/openapi.yaml paths: {missing}"


def test_every_documented_operation_is_served() -> None:
    extra = document_operations() - app_operations()
    assert not extra, f"documented in entrypoints/openapi.yaml but not served: {extra}"


def error_errnos(response: Any) -> set[int]:
    """The errnos an error response of the document allows."""
    schema = deref(deref(response)["content"]["application/json"]["schema"])
    for part in schema.get("allOf", ()):
        errno = deref(part).get("properties", {}).get("errno")
        if errno is not None and "enum" in errno:
            return set(errno["enum"])
    return set()


def documented_errors() -> dict[tuple[str, str, int], set[int]]:
    return {
        (path, method, int(status)): error_errnos(response)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status, response in operation["responses"].items()
        if int(status) >= 400 and error_errnos(response)
    }


def test_every_errno_of_the_app_is_in_the_document() -> None:
    enum = set(DOCUMENT["components"]["schemas"]["Errno"]["enum"])
    assert enum == set(HTTP_STATUS), (
        "components.schemas.Errno in entrypoints/openapi.yaml must list exactly the errnos "
        f"of entrypoints/http.py HTTP_STATUS: missing {set(HTTP_STATUS) - enum}, "
        f"extra {enum - set(HTTP_STATUS)}"
    )


@pytest.mark.parametrize("where", sorted(documented_errors()))
def test_each_documented_error_status_matches_its_errnos(where: tuple[str, str, int]) -> None:
    status = where[2]
    wrong = {e for e in documented_errors()[where] if HTTP_STATUS.get(e) != status}
    assert not wrong, f"{where}: errnos {wrong} are not answered with {status}"


def schema_fields(schema: Any) -> tuple[set[str], set[str]]:
    schema = deref(schema)
    return set(schema["properties"]), set(schema.get("required", ()))


def model_fields(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    fields = model.model_fields
    return set(fields), {name for name, field in fields.items() if field.is_required()}


def test_send_request_fields_match_the_validation() -> None:
    schema = DOCUMENT["paths"]["/send"]["post"]["requestBody"]["content"]["application/json"]
    request = deref(schema["schema"])
    assert schema_fields(request) == model_fields(SendRequest)
    assert schema_fields(request["properties"]["body"]) == model_fields(Body)


async def test_the_document_is_served_as_json() -> None:
    async with client_for(make_container()) as client:
        response = await client.get("/__openapi__")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == DOCUMENT
    assert served["openapi"].startswith("3.1.")
