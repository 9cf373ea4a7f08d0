"""The action's modes: `run:` times a command, `phase: start` and `phase: finish` a span."""

from __future__ import annotations

import time

from action import system
from action import workflow_commands as wf
from action.inputs import NAMES, Inputs, variable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

# Clocks of two processes on one machine agree about monotonic time (same boot) to well
# under this; past it the start was recorded elsewhere and wall time is all there is.
MONOTONIC_TRUST_S = 60.0


def _temp_dir(environ: Mapping[str, str]) -> str:
    for name in ("RUNNER_TEMP", "TMPDIR", "TEMP", "TMP"):
        if environ.get(name):
            return environ[name]
    return "/tmp" if system.POSIX else "."  # noqa: S108 - only outside a runner


def _exit_for_report(inputs: Inputs, ok: bool) -> int:
    return 0 if ok or not inputs.fail_on_report_error else 1


def _config_problems(inputs: Inputs) -> bool:
    for problem in inputs.problems:
        wf.error(f"configuration: {problem}")
    return bool(inputs.problems)


def _report_fields(
    inputs: Inputs, environ: Mapping[str, str], step: str
) -> dict[str, object] | None:
    from action import context

    try:
        fields = context.run_fields(environ)
    except context.ContextError as exc:
        wf.warning(f"task {inputs.task!r} is not reported: {exc}")
        return None
    fields.update(task=inputs.task, kind=inputs.kind, step=step)
    if inputs.version:
        fields["version"] = inputs.version
    return fields


def _send(
    inputs: Inputs, environ: Mapping[str, str], report: dict[str, object] | None, **kw: bool
) -> tuple[bool, str]:
    if report is None:
        return False, "not sent (not in a GitHub Actions job)"
    from action import report as reporting

    delivery = reporting.deliver(report, inputs, environ, **kw)
    return delivery.sent, delivery.note


def run_task(inputs: Inputs, environ: Mapping[str, str]) -> int:
    """`run:` mode: time the command, report it, and exit with the command's own code."""
    from action import command

    misconfigured = _config_problems(inputs)
    child_env = {
        key: value for key, value in environ.items() if key not in {variable(n) for n in NAMES}
    }

    def warm_imports() -> None:
        # Import the reporting modules while the command runs, not after it. A failure
        # here surfaces again, with its reason, when the report is sent.
        from action import context, report  # noqa: F401

    wf.group(f"heatmeter: {inputs.task or 'task'} ({inputs.kind})")
    try:
        result = command.run(
            inputs.run,
            inputs.shell,
            temp_dir=_temp_dir(environ),
            env=child_env,
            while_running=warm_imports,
        )
    except (command.ShellError, OSError) as exc:
        wf.endgroup()
        wf.error(f"could not start the command of task {inputs.task!r}: {exc}")
        # What a shell answers when a program is missing (127) or not runnable (126).
        code = 127 if isinstance(exc, FileNotFoundError) else 1
        code = 126 if isinstance(exc, PermissionError) else code
        result = command.CommandResult(code, time.time(), 0, cancelled=False)
    else:
        wf.endgroup()

    try:
        wf.set_outputs({"duration-ms": str(result.duration_ms), "outcome": result.outcome})
        wf.log(
            f"heatmeter: task {inputs.task!r} {result.outcome} in "
            f"{wf.format_duration(result.duration_ms)} (exit code {result.exit_code})"
        )
        sent, note = False, "not sent (configuration error)"
        if not misconfigured:
            fields = _report_fields(inputs, environ, _step(inputs, environ))
            if fields is not None:
                fields.update(
                    phase="finish",
                    started_at=_rfc3339(result.started_epoch),
                    finished_at=_rfc3339(result.started_epoch + result.duration_ms / 1000),
                    duration_ms=result.duration_ms,
                    outcome=result.outcome,
                    exit_code=result.exit_code,
                )
            sent, note = _send(inputs, environ, fields, cancelled=result.cancelled)
        wf.append_summary(
            wf.summary_table(inputs.task, inputs.kind, result.outcome, result.duration_ms, note)
        )
    except Exception as exc:  # the command ran: its exit code must survive any bug here
        sent = False
        wf.warning(f"task {inputs.task!r} was run but not reported: {type(exc).__name__}: {exc}")
    if result.exit_code != 0:
        return result.exit_code
    return _exit_for_report(inputs, sent)


def _step(inputs: Inputs, environ: Mapping[str, str]) -> str:
    from action import context

    return context.step_key(inputs.id, environ)


def _rfc3339(epoch: float) -> str:
    from action.report import rfc3339

    return rfc3339(epoch)


def start_task(inputs: Inputs, environ: Mapping[str, str]) -> int:
    """`phase: start`: remember when the task started, and tell the service it runs."""
    from action import state

    started_epoch, started_monotonic = time.time(), time.monotonic()
    step = _step(inputs, environ)
    record = {
        "step": step,
        "kind": inputs.kind,
        "version": inputs.version,
        "started_at": _rfc3339(started_epoch),
        "started_epoch": started_epoch,
        "started_monotonic": started_monotonic,
    }
    if state.save(_temp_dir(environ), inputs.task, inputs.id, record):
        wf.warning(
            f"task {inputs.task!r}{_id_words(inputs)} was started again before it finished; "
            "timing it from now (give each overlapping start its own id)"
        )
    fields = _report_fields(inputs, environ, step)
    if fields is not None:
        fields.update(phase="start", started_at=record["started_at"])
    sent, _ = _send(inputs, environ, fields)
    return _exit_for_report(inputs, sent)


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

    temp_dir = _temp_dir(environ)
    record = state.load(temp_dir, inputs.task, inputs.id)
    if record is None:
        wf.error(
            f"no phase: start was recorded for task {inputs.task!r}{_id_words(inputs)} in this "
            "job, so there is nothing to finish: add a heatmeter step with phase: start and the "
            "same task and id before the steps it times"
        )
        return _exit_for_report(inputs, False)
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
    fields = _report_fields(inputs, environ, str(record.get("step") or _step(inputs, environ)))
    if fields is not None:
        fields.update(
            phase="finish",
            started_at=str(record.get("started_at") or _rfc3339(started_epoch)),
            finished_at=_rfc3339(finished_epoch),
            duration_ms=duration_ms,
            outcome=inputs.outcome,
        )
    sent, note = _send(inputs, environ, fields)
    wf.append_summary(wf.summary_table(inputs.task, kind, inputs.outcome, duration_ms, note))
    return _exit_for_report(inputs, sent)


def _prepare_tls(inputs: Inputs, environ: Mapping[str, str]) -> None:
    """Start loading `ssl` on a background thread when a request will need it."""
    token_url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", "")
    if inputs.service_url.startswith("https://") or token_url.startswith("https://"):
        from action import http1

        http1.prepare_tls()


def main(environ: Mapping[str, str] = system.environ) -> int:
    inputs = Inputs(environ)
    _prepare_tls(inputs, environ)
    if inputs.secret:
        wf.add_mask(inputs.secret)
    if inputs.run.strip():
        return run_task(inputs, environ)
    if _config_problems(inputs):
        return _exit_for_report(inputs, False)
    try:
        if inputs.phase == "start":
            return start_task(inputs, environ)
        return finish_task(inputs, environ)
    except OSError as exc:
        wf.error(f"task {inputs.task!r}: cannot keep its start/finish state: {exc}")
        return _exit_for_report(inputs, False)
