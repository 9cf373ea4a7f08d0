"""`heatmeter backfill`: walk past runs of some repositories (or all the App's) and store them."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..db.embedded import database
from ..settings import Settings

DEFAULT_SINCE = "90d"
_SINCE = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")


class UsageError(ValueError):
    """An argument we cannot use; the message says which and why."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="record past runs' matching job steps and queue times from GitHub's API",
        description="Walk past workflow runs and their jobs with GitHub's REST API and store "
        "the steps that match the task definitions, and every job's queue time. Resumes "
        "where it stopped; running it again stores nothing twice.",
    )
    backfill.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="a repository to walk (repeatable)",
    )
    backfill.add_argument(
        "--all-installed",
        action="store_true",
        help="every repository the GitHub App is installed on",
    )
    backfill.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help="how far back: 90d, 12w, 36h, or a date such as 2026-01-31 (default 90d)",
    )
    backfill.set_defaults(func=cmd_backfill)


def parse_since(value: str, now: datetime) -> datetime:
    if match := _SINCE.match(value.strip()):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--since {value!r}: use 90d, 12w, 36h or a date like 2026-01-31"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now:
        raise UsageError(f"--since {value!r} is in the future")
    return moment


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: PyGithub takes a third of a second to import, which no other
    # command should pay.
    from .github import GitHubAccess, NoCredentials
    from .progress import final_count
    from .run import backfill_database
    from .walk import BackfillStopped

    try:
        # GitHub's history, on GitHub's clock: the real one, like the walk's end.
        since = parse_since(args.since, datetime.now(UTC))
        repositories = _repositories(args.repo, args.all_installed)
    except UsageError as exc:
        print(f"heatmeter: {exc}", file=sys.stderr)
        return 2
    access = GitHubAccess.from_settings(settings)
    try:
        access.check(all_installed=args.all_installed)
    except NoCredentials as exc:
        # Said before any database is started.
        print(f"heatmeter: {exc}", file=sys.stderr)
        return 2
    with database(settings) as ready:
        assert ready.database_url is not None
        try:
            counts = asyncio.run(
                backfill_database(
                    ready.database_url, access, repositories, args.all_installed, since
                )
            )
        except BackfillStopped as exc:
            print(f"heatmeter: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            # Each finished window of runs is kept, with the cursor at its end.
            print("heatmeter: backfill interrupted; run it again to resume", file=sys.stderr)
            return 130
    print(final_count(counts))
    return 1 if counts.failed_repositories else 0


def _repositories(names: Sequence[str], all_installed: bool) -> list[str]:
    if not names and not all_installed:
        raise UsageError("name the repositories with --repo OWNER/NAME, or pass --all-installed")
    for name in names:
        if not _REPOSITORY.match(name):
            raise UsageError(f"--repo {name!r} is not OWNER/NAME")
    return list(dict.fromkeys(names))
