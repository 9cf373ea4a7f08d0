"""Reads `/heatmeter rate N [task] [words]` out of a comment: pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

COMMAND = "/heatmeter"
SYNTAX = "/heatmeter rate N [task] [words]"
LOWEST, HIGHEST = 1, 5
# Longer words are cut here (the happiness table's bound): a rating, not an essay.
MAX_WORDS_CHARS = 2000

# A command line starts with the command, after optional indentation, and the command is
# a word of its own: `/heatmeterx` is not one.
_COMMAND_LINE = re.compile(rf"^[ \t]*{re.escape(COMMAND)}(?=\s|$)(?P<rest>.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
# Postgres text cannot hold NUL, and UTF-8 cannot hold a lone surrogate.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Rating:
    """A well-formed command: a score, the task it names (if any) and the words after it."""

    score: int
    task: str | None
    words: str | None


@dataclass(frozen=True)
class Malformed:
    """A `/heatmeter` command that cannot be read.

    ``problem`` is in heatmeter's words only, never the comment's, and plain text: the
    reply quotes it as it is.
    """

    problem: str


def parse_comment(body: str, known_tasks: Iterable[str] = ()) -> Rating | Malformed | None:
    """The rating a comment gives, what is wrong with its command, or None without one.

    The command is the first line that starts with ``/heatmeter`` outside a fenced code
    block (a quoted ``> /heatmeter`` line is not a command). After ``rate`` and the score,
    the next word(s) name a task when they match one of ``known_tasks`` (any case; the
    longest match wins); everything after that, up to the end of the comment, is the
    words, kept as written.
    """
    found = _command(body)
    if found is None:
        return None
    rest, following = found
    parts = rest.strip().split(maxsplit=1)
    if not parts:
        return Malformed("nothing follows /heatmeter")
    if parts[0].lower() != "rate":
        return Malformed("rate is the only command heatmeter knows")
    after_rate = parts[1] if len(parts) > 1 else ""
    score_word, *tail_words = after_rate.strip().split(maxsplit=1) or [""]
    tail = tail_words[0] if tail_words else ""
    score = _score(score_word)
    if score is None:
        return Malformed(f"the score must be a whole number from {LOWEST} to {HIGHEST}")
    text = "\n".join([tail.strip(), *following]).strip() if following else tail.strip()
    task, words = _split_task(text, known_tasks)
    return Rating(score=score, task=task, words=_clean_words(words))


def _command(body: str) -> tuple[str, list[str]] | None:
    """The command line's text after ``/heatmeter``, and the comment's lines after it."""
    lines = body.splitlines()
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        match = _COMMAND_LINE.match(line)
        if match:
            return match["rest"], lines[index + 1 :]
    return None


def _score(word: str) -> int | None:
    word = word.strip().removesuffix("/5")
    if not word.isascii() or not word.isdigit():
        return None
    score = int(word)
    return score if LOWEST <= score <= HIGHEST else None


def _split_task(text: str, known_tasks: Iterable[str]) -> tuple[str | None, str]:
    for task in sorted(set(known_tasks), key=len, reverse=True):
        head, after = text[: len(task)], text[len(task) :]
        if task and head.casefold() == task.casefold() and (not after or after[0].isspace()):
            return task, after
    return None, text


def _clean_words(words: str) -> str | None:
    words = _UNSTORABLE.sub("\ufffd", words.strip())[:MAX_WORDS_CHARS].strip()
    return words or None
