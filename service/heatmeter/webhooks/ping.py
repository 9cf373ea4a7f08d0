"""Answers GitHub's ping, sent once when the App's webhook is set up."""

from typing import Any

import structlog
from gidgethub import routing, sansio

log = structlog.get_logger(__name__)
router = routing.Router()


@router.register("ping")
async def pong(event: sansio.Event, **_: Any) -> None:
    log.info(
        "ping", hook_id=event.data.get("hook_id"), app_id=event.data.get("hook", {}).get("app_id")
    )
