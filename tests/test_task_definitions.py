"""Task definitions: checking them, and which step names they match (pure, no database)."""

from __future__ import annotations

import pytest

from heatmeter.tasks.definitions import (
    MAX_STEP_NAME_LENGTH,
    DefinitionError,
    define_task,
    matching_tasks,
)


def matches(definition, step: str, repository: str = "org/app", workflow: str | None = "CD"):
    return definition.matches(repository=repository, workflow=workflow, step=step)


@pytest.mark.parametrize(
    ("pattern", "step", "expected"),
    [
        ("Deploy to *", "Deploy to staging", True),
        ("Deploy to *", "Deploy to ", True),
        ("Deploy to *", "deploy to staging", False),  # case counts: fnmatchcase
        ("Deploy to *", "Run Deploy to staging", False),  # the whole name, not a part
        ("Deploy to ?", "Deploy to 1", True),
        ("Deploy to ?", "Deploy to 12", False),
        ("Deploy [ps]*", "Deploy prod", True),
        ("Deploy [[]prod]", "Deploy [prod]", True),  # a literal bracket, escaped the glob way
        ("terraform apply", "terraform apply", True),
        ("terraform apply", "terraform apply -auto-approve", False),
    ],
)
def test_globs_match_the_whole_step_name_case_sensitively(pattern, step, expected) -> None:
    assert matches(define_task("t", kind="deploy", step=pattern), step) is expected


@pytest.mark.parametrize(
    ("pattern", "step", "expected"),
    [
        (r"Deploy to (staging|prod)", "Deploy to prod", True),
        (r"Deploy to (staging|prod)", "Deploy to production", False),  # fullmatch, not search
        (r"Deploy to (staging|prod)", "Please Deploy to prod", False),
        (r"(?i)deploy.*", "DEPLOY everything", True),
        (r"Run \d+", "Run 42", True),
        (r"Run \d+", "Run 42\n", False),  # no `$`-before-newline leniency
    ],
)
def test_regexes_must_match_the_whole_step_name(pattern, step, expected) -> None:
    assert matches(define_task("t", kind="deploy", step=pattern, regex=True), step) is expected


def test_a_glob_is_not_a_regex_and_the_other_way_round() -> None:
    glob = define_task("t", kind="other", step="Deploy (prod)")
    assert matches(glob, "Deploy (prod)")
    assert not matches(glob, "Deploy prod")
    regex = define_task("t", kind="other", step="Deploy *", regex=True)
    assert matches(regex, "Deploy    ")
    assert not matches(regex, "Deploy to prod")


def test_repository_and_workflow_filters() -> None:
    definition = define_task(
        "deploy", kind="deploy", step="Deploy*", repository="my-org/*", workflow="CD*"
    )
    assert matches(definition, "Deploy", repository="my-org/app", workflow="CD")
    # GitHub compares repository names without regard to case.
    assert matches(definition, "Deploy", repository="My-Org/App", workflow="CD prod")
    assert not matches(definition, "Deploy", repository="other/app", workflow="CD")
    assert not matches(definition, "Deploy", repository="my-org/app", workflow="CI")
    # A job whose workflow is not named cannot pass a workflow filter.
    assert not matches(definition, "Deploy", repository="my-org/app", workflow=None)
    unfiltered = define_task("deploy", kind="deploy", step="Deploy*")
    assert matches(unfiltered, "Deploy", repository="anyone/anything", workflow=None)


def test_overlong_step_names_match_nothing() -> None:
    definition = define_task("t", kind="other", step="*")
    assert matches(definition, "x" * MAX_STEP_NAME_LENGTH)
    assert not matches(definition, "x" * (MAX_STEP_NAME_LENGTH + 1))


def test_a_step_may_be_a_run_of_several_tasks() -> None:
    deploy = define_task("deploy", kind="deploy", step="Deploy *")
    prod = define_task("prod-deploy", kind="deploy", step="* to prod")
    lint = define_task("lint", kind="other", step="Lint")
    found = matching_tasks(
        [deploy, prod, lint], repository="o/r", workflow=None, step="Deploy to prod"
    )
    assert [d.name for d in found] == ["deploy", "prod-deploy"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "kind": "deploy", "step": "x"}, "task name"),
        ({"name": "x" * 101, "kind": "deploy", "step": "x"}, "task name"),
        ({"name": "t", "kind": "release", "step": "x"}, "--kind must be one of"),
        ({"name": "t", "kind": "deploy", "step": ""}, "--step must be"),
        ({"name": "t", "kind": "deploy", "step": "x" * 501}, "--step must be"),
        (
            {"name": "t", "kind": "deploy", "step": "Deploy (prod", "regex": True},
            "not a valid regular expression: missing ), unterminated subpattern",
        ),
        ({"name": "t", "kind": "deploy", "step": "*", "regex": True}, "nothing to repeat"),
        ({"name": "t", "kind": "deploy", "step": "x", "repository": "my-org"}, "owner/name"),
        ({"name": "t", "kind": "deploy", "step": "x", "workflow": ""}, "--workflow"),
    ],
)
def test_bad_definitions_are_refused_with_a_reason(kwargs, message) -> None:
    name = kwargs.pop("name")
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        define_task(name, **kwargs)


def test_a_definition_records_its_syntax() -> None:
    assert define_task("t", kind="other", step="x").pattern_syntax == "glob"
    assert define_task("t", kind="other", step="x", regex=True).pattern_syntax == "regex"
    assert define_task("  t ", kind="other", step="x").name == "t"
