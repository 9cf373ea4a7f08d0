"""Real GitHub webhook payloads (octokit/webhooks, MIT, see fixtures/) and how to sign them."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "github-webhooks"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture, free to change."""
    return copy.deepcopy(_load(name))


def webhook_request(
    event: str, data: dict[str, Any] | bytes, secret: str, *, delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def workflow_run_payload(
    repository: dict[str, Any],
    run_id: int,
    *,
    action: str = "requested",
    event: str = "push",
    head_repository: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A workflow_run delivery of run ``run_id`` of ``repository`` (a payload's repository
    object), started by ``event``, its head in ``head_repository`` (default: its own)."""
    data = payload("workflow_run.completed.with-pull-requests")
    data["action"] = action
    data["repository"] = copy.deepcopy(repository)
    run = data["workflow_run"]
    run.update(id=run_id, event=event, pull_requests=[], **changes)
    head = head_repository or repository["full_name"]
    head_id = repository.get("id") if head_repository is None else 99
    run["head_repository"] = {**run["head_repository"], "full_name": head, "id": head_id}
    return data
