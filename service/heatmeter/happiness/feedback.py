"""What a rating comment is owed: a 👍 once its response is stored, or one reply showing the
syntax when its command cannot be read. Sent through the outbox, never from the webhook.
"""

from __future__ import annotations

import asyncpg

from ..outbox import answers, queue
from .command import SYNTAX

# 👍: "your rating is stored".
STORED = "+1"


def syntax_reply(problem: str) -> str:
    """One short reply: what was wrong (heatmeter's words, never the user's) and the syntax.

    No line of it starts with the command, so it is never read as a rating itself.
    """
    return (
        f"heatmeter could not read that rating: {problem}. "
        f"The syntax is `{SYNTAX}`, with N from 1 (awful) to 5 (great), "
        "e.g. `/heatmeter rate 4` or `/heatmeter rate 2 deploy waited for a lock`."
    )


async def acknowledge(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int
) -> None:
    """Acknowledge a stored rating; a reply to an earlier malformed version is now moot."""
    await queue.withdraw(conn, [answers.REPLY], answers.key(comment_id))
    await answers.request_reaction(conn, repository, pull_request, comment_id, STORED)


async def show_syntax(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, problem: str
) -> None:
    """Show the syntax once for this comment; ``problem`` is heatmeter's own words."""
    await queue.withdraw(conn, [answers.REACTION], answers.key(comment_id))
    await answers.request_reply(conn, repository, pull_request, comment_id, syntax_reply(problem))


async def withdraw(conn: asyncpg.Connection, comment_id: int) -> None:
    """The comment no longer rates anything: drop what was not sent yet."""
    await queue.withdraw(conn, [answers.REACTION, answers.REPLY], answers.key(comment_id))
