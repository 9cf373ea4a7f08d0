"""`phase: start` and `phase: finish`: a task made of other steps, timed from one to the other."""

from __future__ import annotations

import time

from action import workflow_commands as wf
from action.modes import (
    exit_for_report,
    report_fields,
    rfc3339,
    send_report,
    step_key,
    temp_folder,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from action.inputs import Inputs

# Clocks of two processes on one machine agree about monotonic time (same boot) to well
# under this; past it the start was recorded elsewhere and wall time is all there is.
MONOTONIC_TRUST_S = 60.0


def start_task(inputs: Inputs, environ: Mapping[str, str]) -> int:
    """`phase: start`: remember when the task started, and tell the service it runs."""
    from action import state

    started_epoch, started_monotonic = time.time(), time.monotonic()
    step = step_key(inputs, environ)
    record = {
        "step": step,
        "kind": inputs.kind,
        "version": inputs.version,
        "started_at": rfc3339(started_epoch),
        "started_epoch": started_epoch,
        "started_monotonic": started_monotonic,
    }
    if state.save(temp_folder(environ), inputs.task, inputs.id, record):
        wf.warning(
            f"task {inputs.task!r}{_id_words(inputs)} was started again before it finished; "
            "timing it from now (give each overlapping start its own id)"
        )
    fields = report_fields(inputs, environ, step)
    if fields is not None:
        fields.update(phase="start", started_at=record["started_at"])
    sent, _ = send_report(inputs, environ, fields)
    return exit_for_report(inputs, sent)


def _number(value: object, default: float) -> float:
    """A number read back from the state file, or `default` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value)


def _id_words(inputs: Inputs) -> str:
    return f" (id {inputs.id!r})" if inputs.id else ""


def finish_task(inputs: Inputs, environ: Mapping[str, str]) -> int:
    """`phase: finish`: close the task that `phase: start` opened, with the given outcome."""
    from action import state

    temp_dir = temp_folder(environ)
    record = state.load(temp_dir, inputs.task, inputs.id)
    if record is None:
        wf.error(
            f"no phase: start was recorded for task {inputs.task!r}{_id_words(inputs)} in this "
            "job, so there is nothing to finish: add a heatmeter step with phase: start and the "
            "same task and id before the steps it times"
        )
        return exit_for_report(inputs, False)
    finished_epoch, finished_monotonic = time.time(), time.monotonic()
    started_epoch = _number(record.get("started_epoch"), finished_epoch)
    wall_s = finished_epoch - started_epoch
    monotonic_s = finished_monotonic - _number(record.get("started_monotonic"), float("inf"))
    trusted = monotonic_s >= 0 and abs(monotonic_s - wall_s) < MONOTONIC_TRUST_S
    elapsed_s = monotonic_s if trusted else wall_s
    duration_ms = max(0, int(elapsed_s * 1000))
    state.remove(temp_dir, inputs.task, inputs.id)

    kind = str(record.get("kind") or inputs.kind)
    inputs.kind = kind  # the start decided the kind; the summary and report follow it
    inputs.version = str(record.get("version") or inputs.version)
    wf.set_outputs({"duration-ms": str(duration_ms), "outcome": inputs.outcome})
    fields = report_fields(inputs, environ, str(record.get("step") or step_key(inputs, environ)))
    if fields is not None:
        fields.update(
            phase="finish",
            started_at=str(record.get("started_at") or rfc3339(started_epoch)),
            finished_at=rfc3339(finished_epoch),
            duration_ms=duration_ms,
            outcome=inputs.outcome,
        )
    sent, note = send_report(inputs, environ, fields)
    wf.append_summary(wf.summary_table(inputs.task, kind, inputs.outcome, duration_ms, note))
    return exit_for_report(inputs, sent)
