"""What a kind of outbox item is: a name, how to perform one item, and its few rules.

A kind is a small module (``comment.py``, ``reaction.py``, …) that builds one ``Kind``
and offers a function to ask for its items; ``registry.py`` lists them, and the worker
does the rest (leases, debounce, retries, giving up, metrics). ``perform`` returns a
word for the metrics ("written", "unchanged") or raises:

- ``GitHubUnavailable`` or ``Outage``: the outside is down; waited out, never given up;
- ``GitHubRefused`` or ``Refusal``: said no; retried a bounded number of times, then
  abandoned (any other exception, our bug, counts as a refusal too);
- ``Gone``: what the item was about no longer exists; nothing is left to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg

from ..github.client import GitHubClient
from ..github.credentials import AppAuth
from ..settings import Settings
from .queue import Item


@dataclass(frozen=True)
class Context:
    """What a kind may use to perform an item: the service's own pool and clients."""

    pool: asyncpg.Pool
    settings: Settings
    # None when neither a GitHub App nor a token is configured.
    github: GitHubClient | None
    # For kinds that call something other than GitHub (a chat webhook).
    http: aiohttp.ClientSession | None = None


Perform = Callable[[Item, Context], Awaitable[str]]


def has_github(context: Context) -> bool:
    return context.github is not None


def has_github_app(context: Context) -> bool:
    """Calls as the App itself (its installations, its deliveries) need the App, not a token."""
    return context.github is not None and isinstance(context.github.auth, AppAuth)


@dataclass(frozen=True)
class Kind:
    """One kind of item the outbox holds and the worker performs."""

    # The value of outbox.kind, also the metrics' label: never rename a kind with rows.
    name: str
    perform: Perform
    # Seconds an item waits after its first request, so that a burst of requests costs
    # one performance; settings may decide it.
    debounce_s: Callable[[Settings], float] = lambda settings: 0.0
    # True: performed once per key, ever; the done row stays as the memory of it, and
    # asking again changes nothing (unless it was abandoned). False: performed again
    # each time it is asked for, at most once per debounce window, then deleted.
    once: bool = False
    # Whether this service can perform the kind at all; its items wait until it can.
    available: Callable[[Context], bool] = has_github


class Outage(Exception):
    """The outside is down (a kind's own, for calls that are not GitHub's): try later.

    ``retry_after`` is how many seconds the other side asked us to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refusal(Exception):
    """The outside said no in a way retrying alone will not mend."""


class Gone(Exception):
    """What the item was about is gone (a deleted comment): done, with this as its note."""
