"""The `/heatmeter rate` parser, on plain strings."""

from __future__ import annotations

import pytest

from heatmeter.happiness.command import MAX_WORDS_CHARS, Malformed, Rating, parse_comment

TASKS = ("deploy", "deploy canary", "Provision", "scaffold")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/heatmeter rate 4", Rating(4, None, None)),
        ("/heatmeter rate 1", Rating(1, None, None)),
        ("/heatmeter rate 5/5", Rating(5, None, None)),
        ("/HEATMETER Rate 3", Rating(3, None, None)),
        (
            "/heatmeter rate 2 deploy waited 10 minutes for a lock",
            Rating(2, "deploy", "waited 10 minutes for a lock"),
        ),
        ("/heatmeter rate 2 DEPLOY", Rating(2, "deploy", None)),
        # The longest known task wins, and a task is a whole word.
        ("/heatmeter rate 3 deploy canary slow", Rating(3, "deploy canary", "slow")),
        ("/heatmeter rate 3 deployment was fine", Rating(3, None, "deployment was fine")),
        # An unknown first word is part of the words, not a task.
        ("/heatmeter rate 4 the lock was quick", Rating(4, None, "the lock was quick")),
        ("/heatmeter rate 4\tprovision\tok", Rating(4, "Provision", "ok")),
        ("  /heatmeter rate 4 scaffold", Rating(4, "scaffold", None)),
        # Text before the command is ignored; lines after it are part of the words.
        (
            "Thanks!\n/heatmeter rate 5 deploy fast\nand no lock this time",
            Rating(5, "deploy", "fast\nand no lock this time"),
        ),
        # Words are kept as written, markup and mentions included.
        (
            "/heatmeter rate 1 <script>alert(1)</script> @org/team [x](http://evil)",
            Rating(1, None, "<script>alert(1)</script> @org/team [x](http://evil)"),
        ),
    ],
)
def test_well_formed_commands(body: str, expected: Rating) -> None:
    assert parse_comment(body, TASKS) == expected


@pytest.mark.parametrize(
    "body",
    [
        "LGTM",
        "",
        "we should /heatmeter rate 4 this",  # not at the start of a line
        "> /heatmeter rate 4",  # a quote of someone else's command
        "```\n/heatmeter rate 4\n```",  # inside a code block
        "/heatmeterish rate 4",
    ],
)
def test_comments_without_a_command(body: str) -> None:
    assert parse_comment(body, TASKS) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("/heatmeter", "nothing follows"),
        ("/heatmeter   ", "nothing follows"),
        ("/heatmeter rat 4", "rate is the only command"),
        ("/heatmeter rate", "whole number from 1 to 5"),
        ("/heatmeter rate 0", "whole number from 1 to 5"),
        ("/heatmeter rate 6 deploy", "whole number from 1 to 5"),
        ("/heatmeter rate 4.5", "whole number from 1 to 5"),
        ("/heatmeter rate four", "whole number from 1 to 5"),
        ("/heatmeter rate -1", "whole number from 1 to 5"),
        ("/heatmeter rate ٤", "whole number from 1 to 5"),
        ("/heatmeter rate deploy 4", "whole number from 1 to 5"),
    ],
)
def test_malformed_commands_say_what_is_wrong(body: str, problem: str) -> None:
    result = parse_comment(body, TASKS)
    assert isinstance(result, Malformed)
    assert problem in result.problem


def test_the_problem_never_echoes_the_users_text() -> None:
    result = parse_comment("/heatmeter <img src=x onerror=alert(1)> 4", TASKS)
    assert isinstance(result, Malformed)
    assert "<img" not in result.problem


def test_the_first_command_counts_and_code_blocks_are_skipped() -> None:
    body = "```\n/heatmeter rate 1\n```\n/heatmeter rate 4 deploy\n/heatmeter rate 2"
    assert parse_comment(body, TASKS) == Rating(4, "deploy", "/heatmeter rate 2")


def test_words_are_bounded_and_storable() -> None:
    long = parse_comment("/heatmeter rate 3 " + "x" * (MAX_WORDS_CHARS + 50))
    assert isinstance(long, Rating)
    assert long.words == "x" * MAX_WORDS_CHARS
    odd = parse_comment("/heatmeter rate 3 nul\x00 and \ud800 here")
    assert odd == Rating(3, None, "nul\ufffd and \ufffd here")


def test_tasks_with_characters_that_change_length_in_lower_case() -> None:
    # "İ".lower() is two characters: matching must compare like with like.
    assert parse_comment("/heatmeter rate 4 İstanbul deploy", ["İstanbul"]) == Rating(
        4, "İstanbul", "deploy"
    )
