"""Hypothesis: signed reports and webhooks with hostile values where the service reads.

Each case starts from a real body (a report as the action sends it, a payload GitHub
sent) and changes a few fields to values chosen to hurt: NUL, lone surrogates, huge or
fractional numbers, deep nesting, timestamps Python would read and RFC 3339 would not,
wrong types, missing fields. Every answer is a 2xx, or a 4xx with a JSON error that
stored nothing; never a 5xx.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st

from ..reports import make_report
from ..webhooks import payload, webhook_request
from .conftest import LiveService, budget

WEBHOOK_SECRET = "test-webhook-secret"

NASTY_TEXT = st.sampled_from([
    "", "\x00", "a\x00b", "\ud800", "x\udfffy", "\U0001f600", "x" * 300, "x" * 70_000, "'; DROP",
    "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
    "20261127T100000Z", "2026-W48-5T10:00:00+00:00", "2026-11-27T10:00:00+0100",
    "2026-02-30T10:00:00Z", "2026-11-27T10:00:60Z", "2026-11-27T10:00:00Z\n",
    "2021-08-05T10:34:58Z", "refs/heads/main", "a" * 40, "A" * 40, "a" * 64,
])  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**53, 2**63 - 1, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT, st.text(max_size=20))
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
) | st.integers(min_value=5, max_value=2000).map(
    lambda depth: json.loads("[" * depth + "]" * depth) if depth < 900 else "deep"
)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data``."""
    found = []
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return found
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key)))
    return found


def changed(data: Any, path: tuple, value: Any, *, delete: bool) -> None:
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value


def encoded(data: Any, deep: int) -> bytes:
    text = json.dumps(data, allow_nan=True)
    # "deep" stands for nesting too deep to build as a Python value: spliced in as text.
    return text.replace('"deep"', "[" * deep + "]" * deep).encode()


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> tuple[bytes, dict]:
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [*paths(data), ("surprise",)]
        path = draw(st.sampled_from(candidates))
        try:
            changed(data, path, draw(VALUES), delete=draw(st.booleans()))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path's parent
    return encoded(data, deep=draw(st.sampled_from([1000, 30_000]))), data


REPORTS = st.sampled_from([
    make_report(),
    make_report(phase="start", finished_at=None, duration_ms=None, outcome=None, exit_code=None),
]).flatmap(mutated)  # fmt: skip


@budget(examples=150)
@given(case=REPORTS)
def test_signed_reports_are_stored_or_refused_never_broken(
    live_service: LiveService, http: requests.Session, case: tuple[bytes, dict]
) -> None:
    body, _ = case
    before = live_service.counts()
    response = http.post(
        f"{live_service.url}/v1/reports", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in {202, 400, 413}, response.text
    answer = response.json()
    if response.status_code == 202:
        assert (
            live_service.fetchval("SELECT count(*) FROM task_runs WHERE id = $1", answer["id"]) == 1
        )
    else:
        assert {"error", "detail"} <= set(answer), answer
        assert live_service.counts() == before, "a refused report stored something"


FIXTURES = {
    "pull_request": ["pull_request.opened", "pull_request.closed", "pull_request.synchronize"],
    "workflow_job": [
        "workflow_job.completed.success.with-organization",
        "workflow_job.in_progress",
    ],
    "workflow_run": ["workflow_run.completed.with-pull-requests", "workflow_run.requested"],
    "installation": ["installation.created"],
    "ping": ["ping.with-app_id"],
    "issue_comment": ["issue_comment.created"],
}
DELIVERIES = st.sampled_from([(event, name) for event, names in FIXTURES.items() for name in names])


@budget(examples=150)
@given(delivery=DELIVERIES, data=st.data())
def test_signed_webhooks_are_handled_or_refused_never_broken(
    live_service: LiveService,
    http: requests.Session,
    delivery: tuple[str, str],
    data: st.DataObject,
) -> None:
    event, name = delivery
    body, _ = data.draw(mutated(payload(name)))
    delivery_id = str(uuid.uuid4())
    body, headers = webhook_request(event, body, WEBHOOK_SECRET, delivery_id=delivery_id)
    before = live_service.counts()
    response = http.post(f"{live_service.url}/webhooks/github", data=body, headers=headers)
    assert response.status_code in {200, 400}, response.text
    answer = response.json()
    recorded = live_service.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE delivery_id = $1", delivery_id
    )
    if response.status_code == 200:
        assert recorded == 1
    else:
        assert {"error", "detail"} <= set(answer), answer
        assert live_service.counts() == before, "a refused delivery stored something"
