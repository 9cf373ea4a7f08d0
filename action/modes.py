"""The action's entry: `run:` mode, which times a command, and the choice of mode.

`phase: start` / `phase: finish` live in action/phases.py, compiled only by jobs that use them.
"""

from __future__ import annotations

import time

from action import system
from action import workflow_commands as wf
from action.inputs import NAMES, Inputs, variable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping


def temp_folder(environ: Mapping[str, str]) -> str:
    for name in ("RUNNER_TEMP", "TMPDIR", "TEMP", "TMP"):
        if environ.get(name):
            return environ[name]
    return "/tmp" if system.POSIX else "."  # noqa: S108 - only outside a runner


def exit_for_report(inputs: Inputs, ok: bool) -> int:
    return 0 if ok or not inputs.fail_on_report_error else 1


def _config_problems(inputs: Inputs) -> bool:
    for problem in inputs.problems:
        wf.error(f"configuration: {problem}")
    return bool(inputs.problems)


def report_fields(
    inputs: Inputs, environ: Mapping[str, str], step: str
) -> dict[str, object] | None:
    from action import report

    try:
        fields = report.run_fields(environ)
    except report.ContextError as exc:
        wf.warning(f"task {inputs.task!r} is not reported: {exc}")
        return None
    fields.update(task=inputs.task, kind=inputs.kind, step=step)
    if inputs.version:
        fields["version"] = inputs.version
    return fields


def send_report(
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
        from action import report  # noqa: F401

    wf.group(f"heatmeter: {inputs.task or 'task'} ({inputs.kind})")
    try:
        result = command.run(
            inputs.run,
            inputs.shell,
            temp_dir=temp_folder(environ),
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
            fields = report_fields(inputs, environ, step_key(inputs, environ))
            if fields is not None:
                fields.update(
                    phase="finish",
                    started_at=rfc3339(result.started_epoch),
                    finished_at=rfc3339(result.started_epoch + result.duration_ms / 1000),
                    duration_ms=result.duration_ms,
                    outcome=result.outcome,
                    exit_code=result.exit_code,
                )
            sent, note = send_report(inputs, environ, fields, cancelled=result.cancelled)
        wf.append_summary(
            wf.summary_table(inputs.task, inputs.kind, result.outcome, result.duration_ms, note)
        )
    except Exception as exc:  # the command ran: its exit code must survive any bug here
        sent = False
        wf.warning(f"task {inputs.task!r} was run but not reported: {type(exc).__name__}: {exc}")
    if result.exit_code != 0:
        return result.exit_code
    return exit_for_report(inputs, sent)


def step_key(inputs: Inputs, environ: Mapping[str, str]) -> str:
    from action import report

    return report.step_key(inputs.id, environ)


def rfc3339(epoch: float) -> str:
    from action.report import rfc3339

    return rfc3339(epoch)


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
        return exit_for_report(inputs, False)
    from action import phases

    try:
        if inputs.phase == "start":
            return phases.start_task(inputs, environ)
        return phases.finish_task(inputs, environ)
    except OSError as exc:
        wf.error(f"task {inputs.task!r}: cannot keep its start/finish state: {exc}")
        return exit_for_report(inputs, False)
