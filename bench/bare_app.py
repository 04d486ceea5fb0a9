"""The baseline: a bare Starlette endpoint that parses a JSON body and answers JSON."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def send(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    return JSONResponse({"messageId": f"bare:{len(body)}"})


app = Starlette(routes=[Route("/send", send, methods=["POST"])])
