"""The demo's synthetic history: pure generation of task runs, installations and ratings.

Eight weeks of a platform used by a handful of repositories: four tasks (one of each
kind), a rollout of ``deploy`` from v2 to a faster v3 that fails a little more at
first, failures, time-outs, cancelled and skipped runs, flaky commits re-run until they
pass, happiness ratings with words, and one open pull request. Seeded, so the same
``now`` always gives the same history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Every demo repository lives under this owner, so demo rows are told apart from real
# ones (and replaced, or refused) by name alone.
DEMO_ORG = "heatmeter-demo"
# Real GitHub installation ids are positive: a negative one cannot collide with them.
DEMO_INSTALLATION_ID = -1
WEEKS = 8
SEED = 8

# (name, installed): one repository reports without the app ("outside the app"), one
# has the app but has not adopted anything yet.
REPOSITORIES = (
    ("payments-api", True),
    ("checkout-web", True),
    ("search-service", True),
    ("billing-worker", True),
    ("identity", True),
    ("mobile-bff", True),
    ("data-pipeline", True),
    ("legacy-monolith", True),
    ("docs-site", False),
)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    # Median seconds, spread (as a fraction), chance of failure, runs per repository-day.
    median_s: float
    spread: float
    failure: float
    per_day: float
    # Repositories (by index into REPOSITORIES) that run it, and from which week.
    adopters: tuple[tuple[int, int], ...]


TASKS = (
    Task("deploy", "deploy", 270, 0.35, 0.07, 1.6,
         ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 4), (8, 0))),
    Task("scaffold-service", "scaffolding", 95, 0.25, 0.04, 0.12,
         ((0, 0), (2, 1), (4, 3), (6, 5))),
    Task("provision-database", "provisioning", 540, 0.5, 0.12, 0.3,
         ((0, 0), (1, 2), (3, 0), (6, 6))),
    Task("lint-workflows", "other", 22, 0.3, 0.03, 2.2,
         ((0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 3), (8, 0))),
)  # fmt: skip

# deploy v3 reaches each repository in turn from week 4: faster, a little flakier at first.
V3_FROM_WEEK = 4
V3_SPEED = 0.7
COMMENTS = (
    (5, "deploy", "v3 is so much quicker, great work"),
    (4, "deploy", "smooth, the preview link in the logs helps"),
    (2, "deploy", "waited 10 minutes for the staging lock again"),
    (3, "provision-database", "worked, but the plan output is hard to read"),
    (1, "provision-database", "timed out twice on a Friday afternoon"),
    (4, "scaffold-service", "new service up in two minutes"),
    (5, "scaffold-service", "the template already had our logging set up <3"),
    (3, "lint-workflows", "fine, though it flags actions we pinned on purpose"),
    (4, "lint-workflows", ""),
    (2, "deploy", "rollback step is confusing: is it `make undo` or the button?"),
)


@dataclass(frozen=True)
class Run:
    repository: str
    run_id: int
    run_attempt: int
    task: str
    kind: str
    version: str | None
    started_at: datetime
    duration_ms: int | None
    outcome: str
    sha: str
    ref: str
    pull_request: int | None


@dataclass(frozen=True)
class Rating:
    repository: str
    pull_request: int
    comment_id: int
    author: str
    task: str | None
    score: int
    words: str
    created_at: datetime


@dataclass
class History:
    installed: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    # (repository, number, head sha, head ref, opened at): the one open pull request.
    open_pull_request: tuple[str, int, str, str, datetime] | None = None


def repository(name: str) -> str:
    return f"{DEMO_ORG}/{name}"


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def generate(now: datetime, seed: int = SEED) -> History:
    """Eight weeks of history ending at ``now``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    history = History(installed=[repository(name) for name, installed in REPOSITORIES if installed])
    start = (now - timedelta(weeks=WEEKS)).replace(minute=0, second=0, microsecond=0)
    run_ids = iter(range(9_000_000, 99_000_000))
    for day in range(WEEKS * 7):
        date = start + timedelta(days=day)
        week = day // 7
        weekend = date.weekday() >= 5
        for task in TASKS:
            for index, since_week in task.adopters:
                if week < since_week:
                    continue
                name = repository(REPOSITORIES[index][0])
                expected = task.per_day * (0.25 if weekend else 1.0)
                count = int(expected) + (rng.random() < expected % 1)
                for _ in range(count):
                    moment = date + timedelta(hours=rng.uniform(7, 19))
                    if moment >= now:
                        continue
                    history.runs.extend(_runs(rng, task, name, index, week, moment, run_ids))
    _add_open_pull_request(history, rng, now, run_ids)
    _add_ratings(history, rng, now)
    return history


def _runs(
    rng: random.Random, task: Task, repo: str, index: int, week: int,
    moment: datetime, run_ids: object,
) -> list[Run]:  # fmt: skip
    """One run of a task, re-run (a new attempt of the same commit) when it failed flakily."""
    version = None
    speed, failure = 1.0, task.failure
    if task.name == "deploy":
        on_v3 = week >= V3_FROM_WEEK + index % 3
        version = "v3" if on_v3 else "v2"
        if on_v3:
            # Faster; fails more the first weeks after the switch, then settles.
            speed = V3_SPEED
            failure = task.failure * (1.8 if week < V3_FROM_WEEK + 2 else 0.8)
    sha = _sha(rng)
    run_id = next(run_ids)  # type: ignore[call-overload]
    roll = rng.random()
    if roll < 0.03:
        outcome = "cancelled"
    elif roll < 0.05:
        outcome = "skipped"
    elif roll < 0.05 + failure:
        outcome = "timed_out" if rng.random() < 0.15 else "failure"
    else:
        outcome = "success"
    seconds = task.median_s * speed * rng.lognormvariate(0, task.spread)
    if outcome == "timed_out":
        seconds = task.median_s * 4
    elif outcome == "skipped":
        seconds = 0.2
    elif outcome == "cancelled":
        seconds *= rng.uniform(0.1, 0.6)
    first = Run(
        repository=repo, run_id=run_id, run_attempt=1, task=task.name, kind=task.kind,
        version=version, started_at=moment, duration_ms=int(seconds * 1000), outcome=outcome,
        sha=sha, ref="refs/heads/main", pull_request=None,
    )  # fmt: skip
    runs = [first]
    # Half the failures are flaky: the second attempt of the same commit passes.
    if outcome == "failure" and rng.random() < 0.5:
        retry_at = moment + timedelta(seconds=seconds + rng.uniform(60, 900))
        runs.append(
            Run(
                repository=repo,
                run_id=run_id,
                run_attempt=2,
                task=task.name,
                kind=task.kind,
                version=version,
                started_at=retry_at,
                duration_ms=int(task.median_s * speed * rng.lognormvariate(0, task.spread) * 1000),
                outcome="success",
                sha=sha,
                ref="refs/heads/main",
                pull_request=None,
            )
        )
    return runs


def _add_open_pull_request(
    history: History, rng: random.Random, now: datetime, run_ids: object
) -> None:
    repo, number = repository("payments-api"), 42
    sha, branch = _sha(rng), "faster-deploys"
    opened = now - timedelta(hours=5)
    history.open_pull_request = (repo, number, sha, branch, opened)
    # A rating that names no task rates every task that ran on the pull request.
    history.ratings.append(
        Rating(
            repository=repo, pull_request=number, comment_id=7_999_999, author="mona",
            task=None, score=4, words="first deploy failed on a flaky test, the retry was quick",
            created_at=opened + timedelta(hours=1),
        )
    )  # fmt: skip
    for attempt, (outcome, seconds) in enumerate([("failure", 200.0), ("success", 180.0)], 1):
        history.runs.append(
            Run(
                repository=repo,
                run_id=next(run_ids),  # type: ignore[call-overload]
                run_attempt=attempt,
                task="deploy",
                kind="deploy",
                version="v3",
                started_at=opened + timedelta(minutes=20 * attempt),
                duration_ms=int(seconds * 1000),
                outcome=outcome,
                sha=sha,
                ref=f"refs/pull/{number}/merge",
                pull_request=number,
            )
        )


def _add_ratings(history: History, rng: random.Random, now: datetime) -> None:
    """Two ratings a week per task, spread over its adopters; the worded ones from COMMENTS."""
    authors = ("mona", "hubot-fan", "octocat", "devon", "priya", "kenji", "amara")
    adopters = {task.name: [repository(REPOSITORIES[i][0]) for i, _ in task.adopters]
                for task in TASKS}  # fmt: skip
    comment_id = 7_000_000
    for week in range(WEEKS):
        for task in TASKS * 2:
            score = min(5, max(1, round(rng.gauss(3.6 + 0.15 * week / WEEKS * 4, 0.9))))
            comment_id += 1
            history.ratings.append(_rating(
                rng, now, week, adopters[task.name], comment_id, authors, task.name, score, ""
            ))  # fmt: skip
    for offset, (score, task_name, words) in enumerate(COMMENTS):
        comment_id += 1
        week = WEEKS - 1 - offset % WEEKS
        history.ratings.append(_rating(
            rng, now, week, adopters[task_name], comment_id, authors, task_name, score, words
        ))  # fmt: skip


def _rating(
    rng: random.Random, now: datetime, week: int, repos: list[str], comment_id: int,
    authors: tuple[str, ...], task: str, score: int, words: str,
) -> Rating:  # fmt: skip
    created = now - timedelta(weeks=WEEKS - week) + timedelta(hours=rng.uniform(1, 7 * 24 - 1))
    return Rating(
        repository=rng.choice(repos), pull_request=rng.randint(1, 400), comment_id=comment_id,
        author=rng.choice(authors), task=task, score=score, words=words,
        created_at=min(created, now - timedelta(minutes=5)),
    )  # fmt: skip
