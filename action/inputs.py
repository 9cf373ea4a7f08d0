"""The action's inputs, as action.yml hands them over in INPUT_<NAME> variables."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

KINDS = ("scaffolding", "deploy", "provisioning", "other")
PHASES = ("start", "finish")
# GitHub's step outcomes, plus the contract's `timed_out` for callers that know better.
OUTCOMES = ("success", "failure", "cancelled", "skipped", "timed_out")
TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off", ""})
# Seconds a report may spend waiting out a service that answers 503/429/5xx: a database
# restart or failover takes well under this. A service that never answers costs ~4 s.
RETRY_BUDGET_S = 30.0
MAX_RETRY_BUDGET_S = 600.0

# Every INPUT_* variable action.yml sets; none of them belongs in the wrapped command's env.
NAMES = (
    "task",
    "kind",
    "version",
    "run",
    "shell",
    "phase",
    "outcome",
    "id",
    "service-url",
    "secret",
    "audience",
    "fail-on-report-error",
    "retry-budget",
)


def variable(name: str) -> str:
    """The environment variable that carries input `name` (GitHub's own convention)."""
    return "INPUT_" + name.replace(" ", "_").replace("-", "_").upper()


class Inputs:
    """Validated inputs; `problems` lists configuration mistakes, worded for an annotation."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        def get(name: str, default: str = "") -> str:
            return environ.get(variable(name), "").strip() or default

        self.problems: list[str] = []
        self.task = get("task")
        self.kind = get("kind", "other").lower()
        self.version = get("version")
        self.run = environ.get(variable("run"), "")
        self.shell = get("shell", "bash")
        self.phase = get("phase").lower()
        self.outcome = get("outcome").lower()
        self.id = get("id")
        self.service_url = get("service-url")
        # A secret's surrounding whitespace is part of it: do not strip.
        self.secret = environ.get(variable("secret"), "")
        self.audience = get("audience", "heatmeter")
        flag = get("fail-on-report-error", "false").lower()
        self.fail_on_report_error = flag in TRUE_WORDS
        self.retry_budget = RETRY_BUDGET_S
        budget = get("retry-budget")
        if budget:
            try:
                self.retry_budget = float(budget)
            except ValueError:
                self.retry_budget = -1.0
            # `not <=` also catches NaN, which compares false with everything.
            if not 0 <= self.retry_budget <= MAX_RETRY_BUDGET_S:
                self.retry_budget = RETRY_BUDGET_S
                self.problems.append(
                    f"retry-budget must be a number of seconds from 0 to {MAX_RETRY_BUDGET_S:.0f},"
                    f" not {budget!r}"
                )

        if flag not in TRUE_WORDS | FALSE_WORDS:
            self.problems.append(f"fail-on-report-error must be true or false, not {flag!r}")
        if not self.task:
            self.problems.append("the task input is required")
        elif len(self.task) > 100:
            self.problems.append(f"task must be at most 100 characters, not {len(self.task)}")
        if self.kind not in KINDS:
            self.problems.append(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if len(self.version) > 100:
            self.problems.append(f"version must be at most 100 characters, not {len(self.version)}")
        elif any(ord(char) < 32 or ord(char) == 127 for char in self.version):
            self.problems.append("version must not contain control characters")
        if len(self.id) > 200:
            self.problems.append(f"id must be at most 200 characters, not {len(self.id)}")
        if self.service_url and not self.service_url.startswith(("http://", "https://")):
            self.problems.append(
                f"service-url must start with http:// or https://: {self.service_url!r}"
            )
        if self.run.strip():
            if self.phase:
                self.problems.append("phase is for steps without run: give one or the other")
        elif self.phase not in PHASES:
            self.problems.append(
                "give either run (a command to time) or phase: start / phase: finish"
                + (f", not phase {self.phase!r}" if self.phase else "")
            )
        elif self.phase == "finish" and self.outcome not in OUTCOMES:
            self.problems.append(
                "phase: finish needs outcome: success, failure, cancelled or skipped "
                "(e.g. outcome: ${{ steps.<id>.outcome }}), "
                + (f"not {self.outcome!r}" if self.outcome else "and none was given")
            )
