"""Small readers for the fields GitHub payloads share."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def github_time(value: str | None) -> datetime | None:
    """GitHub's ISO 8601 timestamps (``2021-08-05T10:34:58Z``), or None."""
    return datetime.fromisoformat(value) if value else None


def repository_name(data: dict[str, Any]) -> str:
    return data["repository"]["full_name"]


def installation_id(data: dict[str, Any]) -> int | None:
    return (data.get("installation") or {}).get("id")
