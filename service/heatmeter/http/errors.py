"""JSON error answers, and reading a body within bounds."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

RETRY_AFTER_S = 5
# The ``error`` code of an answer made by `json_error`, for the middleware's counter.
ERROR_CODE = web.ResponseKey("error", str)
# Set on an answer after which the middleware closes the connection (see `ClientError`).
CLOSE_CONNECTION = web.ResponseKey("close_connection", bool)


class ClientError(Exception):
    """The client's doing, not ours: answered ``status`` with a JSON error, never a 5xx.

    ``close`` ends the connection after the answer, for a client whose body was not read
    to its end (there is no telling where its next request would start).
    """

    def __init__(self, status: int, error: str, detail: str, *, close: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.close = close


def json_error(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    """An error answer clients can act on: a stable ``error`` code and a readable ``detail``."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    response = web.json_response(
        {"error": error, "detail": detail, **extra}, status=status, headers=headers
    )
    response[ERROR_CODE] = error
    return response


async def read_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, or a `ClientError`: over ``limit`` bytes (413, refused before reading
    when Content-Length says so), not all there within ``timeout_s`` seconds (408), or cut
    off by the client (400)."""
    if request.content_length is not None and request.content_length > limit:
        raise body_too_large(limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise body_too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        detail = f"the body did not arrive within {timeout_s:g} s"
        raise ClientError(408, "body_timeout", detail, close=True) from None
    except ConnectionError:
        detail = "the client closed the connection before sending the whole body"
        raise ClientError(400, "client_disconnected", detail, close=True) from None
    except HttpProcessingError as exc:  # e.g. a malformed chunked encoding
        detail = f"the body is not valid HTTP: {exc.message}"
        raise ClientError(400, "malformed_body", detail, close=True) from None
    return b"".join(chunks)


def body_too_large(limit: int) -> ClientError:
    """The refusal of a body over ``limit`` bytes, declared or sent.

    Closed rather than drained: the rest of an oversized body is never read.
    """
    detail = f"the body is larger than {limit} bytes"
    return ClientError(413, "request_entity_too_large", detail, close=True)
