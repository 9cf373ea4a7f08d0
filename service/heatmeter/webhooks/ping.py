"""Answers GitHub's ping, sent once when the App's webhook is set up."""

from typing import Any

import structlog
from gidgethub import routing, sansio

from .payloads import obj, optional_identifier, reads

log = structlog.get_logger(__name__)
router = routing.Router()


# The route answers a ping with its `zen`.
PING_FIELDS = obj(
    hook_id=optional_identifier(),
    hook=obj(app_id=optional_identifier()),
    zen={"type": "string", "maxLength": 1000},
)


@router.register("ping")
@reads(PING_FIELDS)
async def pong(event: sansio.Event, **_: Any) -> None:
    log.info(
        "ping", hook_id=event.data.get("hook_id"), app_id=event.data.get("hook", {}).get("app_id")
    )
