"""The action's job summary and the service's PR comment say outcomes and durations alike."""

from __future__ import annotations

import random

import pytest

from action import workflow_commands as action_words
from heatmeter.summary import vocabulary as comment_words
from heatmeter.summary.metrics import OUTCOMES


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_outcome_has_one_icon_and_one_word(outcome: str) -> None:
    icon = comment_words.OUTCOME_ICONS[outcome]
    word = comment_words.OUTCOME_WORDS[outcome]
    assert action_words.OUTCOME_LABELS[outcome] == f"{icon} {word}"
    assert f"{icon} {word}" in comment_words.LEGEND


def test_both_know_the_same_outcomes() -> None:
    assert set(action_words.OUTCOME_LABELS) == set(OUTCOMES)
    assert set(comment_words.OUTCOME_ICONS) - {None} == set(OUTCOMES)


EDGES = [0, 1, 999, 999.4, 999.5, 1000, 1049, 1050, 9_949, 9_950, 10_000, 59_499, 59_500,
         60_000, 65_000, 3_599_499, 3_599_500, 3_600_000, 3_725_000, 86_400_000]  # fmt: skip


@pytest.mark.parametrize("ms", EDGES + random.Random(9).sample(range(0, 10_000_000), 200))
def test_durations_read_the_same_in_the_job_summary_and_the_comment(ms: float) -> None:
    assert action_words.format_duration(ms) == comment_words.format_duration(ms)


def test_one_minute_five_seconds() -> None:
    assert action_words.format_duration(65_000) == "1 min 05 s"
