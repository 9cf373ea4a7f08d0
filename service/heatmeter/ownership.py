"""Which pull request a task run belongs to: one rule for reports, webhooks and job steps.

The rule, in order (``claim`` decides it for one run and one PR):

1. A run whose own event names a PR (``pull_request``, ``pull_request_target``,
   ``issue_comment`` on a PR, …) belongs to that PR and no other.
2. A run triggered by ``workflow_run`` carries the default branch's ``GITHUB_SHA`` and
   ``GITHUB_REF`` whatever triggered it, so neither says anything: it belongs to the PR
   whose head branch (same repository) it names in ``head_ref``, else to none — and
   it is never a baseline run either.
3. A run on the PR's base branch or the repository's default branch
   (``refs/heads/<base>``) is the default branch's history, the baseline: never the
   PR's, even when it ran the PR's head commit (a fast-forward merge, a head pushed to
   main).
4. Otherwise, a run of the open PR's head commit belongs to it; so does a run on its
   head branch, when that branch lives in the PR's own repository (a fork's branch
   names mean nothing here) and the run started after the PR was opened (an old
   branch name may be reused).

Several PRs may claim one run (two PRs from one branch to different bases): a claim by
head commit beats one by branch, then the most recently updated PR wins.

Callers: ``reports.upsert`` for each report, ``webhooks.pull_requests`` when a PR is
opened or pushed (runs that arrived before it), ``webhooks.workflow_runs`` when a run
completes, and anything else that records task runs (job steps from ``workflow_job``):

    number = await owning_pull_request(
        conn, "octo/widgets", sha=..., ref=..., head_ref=..., event_name=..., pull_request=...
    )
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# Events whose payload names the pull request a run serves (the action reads it).
PULL_REQUEST_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_target",
        "pull_request_review",
        "pull_request_review_comment",
        "issue_comment",
    }
)
# Events whose GITHUB_SHA / GITHUB_REF are the default branch's, whatever triggered them.
TRIGGERED_BY_ANOTHER_RUN = frozenset({"workflow_run"})

BY_EVENT = "named by its event"
BY_COMMIT = "head commit"
BY_BRANCH = "head branch"
_PREFERENCE = {BY_EVENT: 0, BY_COMMIT: 1, BY_BRANCH: 2}

BRANCH_PREFIX = "refs/heads/"


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a task run says about where it ran (the report's contract fields)."""

    sha: str | None = None
    ref: str | None = None
    head_ref: str | None = None
    event_name: str | None = None
    pull_request: int | None = None
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PullRequestFacts:
    """What heatmeter knows of a pull request, from its webhooks."""

    number: int
    head_sha: str
    head_ref: str
    base_ref: str
    default_branch: str | None = None
    same_repository: bool = True
    open: bool = True
    opened_at: datetime | None = None

    @property
    def baseline_refs(self) -> frozenset[str]:
        return frozenset(
            BRANCH_PREFIX + branch for branch in (self.base_ref, self.default_branch) if branch
        )


def claim(run: RunFacts, pr: PullRequestFacts) -> str | None:
    """Why ``run`` belongs to ``pr`` (BY_EVENT, BY_COMMIT or BY_BRANCH), or None if not."""
    if run.pull_request is not None:
        return BY_EVENT if run.pull_request == pr.number else None
    if not pr.open:
        return None
    if run.event_name in TRIGGERED_BY_ANOTHER_RUN:
        branch = run.head_ref
        if branch is None or BRANCH_PREFIX + branch in pr.baseline_refs:
            return None
        return BY_BRANCH if pr.same_repository and branch == pr.head_ref else None
    if run.ref in pr.baseline_refs:
        return None
    if run.sha is not None and run.sha == pr.head_sha:
        return BY_COMMIT
    if not pr.same_repository:
        return None
    on_head_branch = run.ref == BRANCH_PREFIX + pr.head_ref or run.head_ref == pr.head_ref
    opened_before = pr.opened_at is None or run.started_at is None or run.started_at >= pr.opened_at
    return BY_BRANCH if on_head_branch and opened_before else None


def owner(run: RunFacts, candidates: Iterable[PullRequestFacts]) -> int | None:
    """The number of the PR ``run`` belongs to, among candidates most recently updated first.

    A run whose event names its PR belongs to it even when heatmeter has not seen the PR.
    """
    if run.pull_request is not None:
        return run.pull_request
    best: tuple[int, int, int] | None = None
    for position, pr in enumerate(candidates):
        reason = claim(run, pr)
        if reason is not None and (best is None or (_PREFERENCE[reason], position) < best[:2]):
            best = (_PREFERENCE[reason], position, pr.number)
    return best[2] if best else None


def is_baseline(run: RunFacts, default_branch: str) -> bool:
    """Whether the run is the default branch's own history, comparable with a PR's runs.

    ``BASELINE_RUN_CONDITION`` says the same in SQL for rows of task_runs.
    """
    return (
        run.ref == BRANCH_PREFIX + default_branch
        and run.pull_request is None
        and run.event_name not in TRIGGERED_BY_ANOTHER_RUN
    )


# is_baseline() over task_runs rows, for baseline queries: $n is the full default ref.
# A row owned by a PR (pull_request_target and issue_comment runs carry the default
# branch's ref) or triggered by another run is never the default branch's history.
BASELINE_RUN_CONDITION = (
    "ref = {ref} AND pull_request IS NULL AND event_name IS DISTINCT FROM 'workflow_run'"
)

# Open PRs that could claim a run: by head commit or head branch. The rule decides.
SELECT_CANDIDATES = """
SELECT number, head_sha, head_ref, base_ref, default_branch,
       head_repository IS NOT DISTINCT FROM repository AS same_repository,
       state = 'open' AS open, opened_at
FROM pull_requests
WHERE repository = $1 AND state = 'open'
  AND (head_sha = $2 OR 'refs/heads/' || head_ref = $3 OR head_ref = $4)
ORDER BY updated_at DESC
LIMIT 20
"""

# SELECT_CANDIDATES for many runs at once (a batch of reports): each run's candidates,
# by its position in the arrays, most recently updated first.
SELECT_CANDIDATES_FOR_RUNS = """
SELECT r.ord, p.number, p.head_sha, p.head_ref, p.base_ref, p.default_branch,
       p.same_repository, p.open, p.opened_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
     AS r(repository, sha, ref, head_ref, ord)
CROSS JOIN LATERAL (
    SELECT number, head_sha, head_ref, base_ref, default_branch,
           head_repository IS NOT DISTINCT FROM repository AS same_repository,
           state = 'open' AS open, opened_at, updated_at
    FROM pull_requests
    WHERE repository = r.repository AND state = 'open'
      AND (head_sha = r.sha OR 'refs/heads/' || head_ref = r.ref OR head_ref = r.head_ref)
    ORDER BY updated_at DESC
    LIMIT 20
) AS p
ORDER BY r.ord, p.updated_at DESC
"""

# Runs nobody owns yet that a PR could claim: its head commit, or its head branch.
SELECT_UNOWNED_RUNS = """
SELECT id, sha, ref, head_ref, event_name, started_at
FROM task_runs
WHERE repository = $1 AND pull_request IS NULL
  AND (sha = $2 OR ref = 'refs/heads/' || $3 OR head_ref = $3)
"""

ATTACH_IDS = """
UPDATE task_runs SET pull_request = $2, updated_at = now()
WHERE id = ANY($1::bigint[]) AND pull_request IS NULL
"""

ATTACH_RUN_ID = """
UPDATE task_runs SET pull_request = $3, updated_at = now()
WHERE repository = $1 AND run_id = $2 AND pull_request IS NULL
"""


async def candidates(
    conn: asyncpg.Connection, repository: str, run: RunFacts
) -> list[PullRequestFacts]:
    """Open PRs of ``repository`` whose head commit or branch ``run`` names."""
    if run.sha is None and run.ref is None and run.head_ref is None:
        return []
    rows = await conn.fetch(SELECT_CANDIDATES, repository, run.sha, run.ref, run.head_ref)
    return [PullRequestFacts(**row) for row in rows]


async def owning_pull_request(
    conn: asyncpg.Connection,
    repository: str,
    *,
    sha: str | None,
    ref: str | None,
    head_ref: str | None,
    event_name: str | None,
    pull_request: int | None,
    started_at: datetime | None = None,
) -> int | None:
    """The PR a task run of ``repository`` belongs to by the rule above, or None.

    Pass what the run itself says: ``sha`` and ``ref`` as GITHUB_SHA / GITHUB_REF
    (``refs/heads/<branch>`` for a branch; a ``workflow_job`` payload's ``head_branch``
    becomes ``refs/heads/<head_branch>``), ``head_ref`` as GITHUB_HEAD_REF (or, for a run
    triggered by ``workflow_run``, the triggering run's head branch), ``event_name`` as
    GITHUB_EVENT_NAME, ``pull_request`` as the number its event names, ``started_at``
    when known. Only PRs heatmeter has seen (``pull_requests``) can be found by commit
    or branch; runs stored before their PR is known are attached when it is, by
    ``attach_runs_to_pull_request``.
    """
    run = RunFacts(sha, ref, head_ref, event_name, pull_request, started_at)
    if pull_request is not None:
        return pull_request
    return owner(run, await candidates(conn, repository, run))


async def owning_pull_requests(
    conn: asyncpg.Connection, runs: Sequence[tuple[str, RunFacts]]
) -> list[int | None]:
    """`owning_pull_request` for many (repository, run) pairs, in one query."""
    owners: list[int | None] = [run.pull_request for _, run in runs]
    asking = [
        i
        for i, (_, run) in enumerate(runs)
        if run.pull_request is None and (run.sha or run.ref or run.head_ref)
    ]
    if not asking:
        return owners
    columns = [
        [runs[i][0] for i in asking],
        [runs[i][1].sha for i in asking],
        [runs[i][1].ref for i in asking],
        [runs[i][1].head_ref for i in asking],
    ]
    found: dict[int, list[PullRequestFacts]] = {}
    for row in await conn.fetch(SELECT_CANDIDATES_FOR_RUNS, *columns):
        facts = {k: v for k, v in row.items() if k != "ord"}
        found.setdefault(row["ord"], []).append(PullRequestFacts(**facts))
    for position, i in enumerate(asking, start=1):
        owners[i] = owner(runs[i][1], found.get(position, []))
    return owners


async def attach_runs_to_pull_request(
    conn: asyncpg.Connection, repository: str, pr: PullRequestFacts
) -> int:
    """Give ``pr`` the unowned runs the rule says are its own; return how many."""
    rows = await conn.fetch(SELECT_UNOWNED_RUNS, repository, pr.head_sha, pr.head_ref)
    ids = [
        row["id"]
        for row in rows
        if claim(
            RunFacts(
                row["sha"], row["ref"], row["head_ref"], row["event_name"], None, row["started_at"]
            ),
            pr,
        )
    ]
    if ids:
        await conn.execute(ATTACH_IDS, ids, pr.number)
    return len(ids)


async def attach_workflow_run(
    conn: asyncpg.Connection,
    repository: str,
    run_id: int,
    run: RunFacts,
    listed: Sequence[PullRequestFacts] = (),
) -> int | None:
    """Give a whole workflow run's unowned task runs to the PR the rule picks for it.

    ``run`` describes the workflow run from its webhook (``head_sha`` as sha,
    ``refs/heads/<head_branch>`` as ref, its ``event``); ``listed`` are the PRs the
    payload names, which need not be known to heatmeter yet. Returns the owner, if any.
    """
    known = await candidates(conn, repository, run)
    seen = {pr.number for pr in listed}
    number = owner(run, [*listed, *(pr for pr in known if pr.number not in seen)])
    if number is not None:
        await conn.execute(ATTACH_RUN_ID, repository, run_id, number)
    return number
