"""Task definitions: which job steps are which platform task, and the pure test of a match.

A definition names a task and a pattern over step names: a glob (``Deploy to *``,
matched with ``fnmatch.fnmatchcase``, so case counts) or a regular expression that must
match the whole name (``re.fullmatch``). Optional globs narrow it to some repositories
(``org/*``, compared without regard to case, as GitHub compares names) and workflows
(``CD``). Nothing here touches a database.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

KINDS = ("scaffolding", "deploy", "provisioning", "other")
Syntax = Literal["glob", "regex"]

MAX_NAME_LENGTH = 100  # the same bound as a report's task name
MAX_PATTERN_LENGTH = 500
# Step names longer than this match nothing: a regular expression's worst case grows with
# the text it reads, and step names are written by whoever edits a workflow.
MAX_STEP_NAME_LENGTH = 500


class DefinitionError(ValueError):
    """A definition we refuse; the message says which part and why."""


@dataclass(frozen=True)
class TaskDefinition:
    name: str
    kind: str
    step_pattern: str
    pattern_syntax: Syntax = "glob"
    repository_glob: str | None = None
    workflow_glob: str | None = None
    created_at: datetime | None = None

    def matches(self, *, repository: str, workflow: str | None, step: str) -> bool:
        """Whether ``step`` of ``workflow`` in ``repository`` is a run of this task."""
        if len(step) > MAX_STEP_NAME_LENGTH:
            return False
        if self.repository_glob is not None and not fnmatch.fnmatchcase(
            repository.lower(), self.repository_glob.lower()
        ):
            return False
        if self.workflow_glob is not None and (
            workflow is None or not fnmatch.fnmatchcase(workflow, self.workflow_glob)
        ):
            return False
        if self.pattern_syntax == "regex":
            return _compiled(self.step_pattern).fullmatch(step) is not None
        return fnmatch.fnmatchcase(step, self.step_pattern)


def define_task(
    name: str,
    *,
    kind: str,
    step: str,
    regex: bool = False,
    repository: str | None = None,
    workflow: str | None = None,
) -> TaskDefinition:
    """A checked definition, or ``DefinitionError`` naming what is wrong."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise DefinitionError(f"the task name must be 1 to {MAX_NAME_LENGTH} characters")
    if kind not in KINDS:
        raise DefinitionError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 1 <= len(step) <= MAX_PATTERN_LENGTH:
        raise DefinitionError(f"--step must be 1 to {MAX_PATTERN_LENGTH} characters")
    if regex:
        try:
            _compiled(step)
        except re.error as exc:
            raise DefinitionError(
                f"--step {step!r} is not a valid regular expression: {exc}"
            ) from None
    if repository is not None and "/" not in repository:
        raise DefinitionError(
            f"--repo {repository!r} must be a glob over owner/name, such as 'my-org/*'"
        )
    if repository is not None and len(repository) > 200:
        raise DefinitionError("--repo must be at most 200 characters")
    if workflow is not None and not 1 <= len(workflow) <= 255:
        raise DefinitionError("--workflow must be 1 to 255 characters")
    return TaskDefinition(
        name=name,
        kind=kind,
        step_pattern=step,
        pattern_syntax="regex" if regex else "glob",
        repository_glob=repository,
        workflow_glob=workflow,
    )


def matching_tasks(
    definitions: Iterable[TaskDefinition], *, repository: str, workflow: str | None, step: str
) -> list[TaskDefinition]:
    """Every definition ``step`` matches, in the order given (one task run each)."""
    return [
        d for d in definitions if d.matches(repository=repository, workflow=workflow, step=step)
    ]


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
