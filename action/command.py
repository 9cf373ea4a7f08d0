"""Runs the wrapped command as a `run:` step would: a script file, GitHub's shell templates."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

# GitHub's templates for `shell:` (docs: "Workflow syntax", jobs.<id>.steps[*].shell).
SHELLS: dict[str, tuple[list[str], str]] = {
    "bash": (["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh"),
    "sh": (["sh", "-e", "{0}"], ".sh"),
    "pwsh": (["pwsh", "-command", ". '{0}'"], ".ps1"),
    "powershell": (["powershell", "-command", ". '{0}'"], ".ps1"),
    "python": (["python", "{0}"], ".py"),
}
# As GitHub does for PowerShell: stop on errors, and exit with the last native exit code.
PWSH_PROLOGUE = "$ErrorActionPreference = 'stop'\n"
PWSH_EPILOGUE = "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n"


class ShellError(Exception):
    """The shell input cannot run a script (unknown template, missing `{0}`)."""


class CommandResult:
    def __init__(
        self, exit_code: int, started_epoch: float, duration_ms: int, cancelled: bool
    ) -> None:
        self.exit_code = exit_code
        self.started_epoch = started_epoch
        self.duration_ms = duration_ms
        self.cancelled = cancelled

    @property
    def outcome(self) -> str:
        if self.cancelled:
            return "cancelled"
        return "success" if self.exit_code == 0 else "failure"


def script_suffix(shell: str) -> str:
    """The script file's suffix for `shell`; ShellError when `shell` cannot run a script."""
    if shell == "cmd":
        return ".cmd"
    if shell in SHELLS:
        return SHELLS[shell][1]
    if "{0}" not in shell:
        raise ShellError(
            f"shell {shell!r} is neither bash, sh, pwsh, powershell, python nor cmd, and is not "
            "a template with {0} for the script path (e.g. 'perl {0}')"
        )
    program = os.path.basename(shell.split(None, 1)[0]).lower().removesuffix(".exe")
    return SHELLS[program][1] if program in SHELLS else ""


def command_line(shell: str, script_path: str) -> list[str] | str:
    """The argv, or a command-line string for cmd and for custom templates on Windows."""
    if shell == "cmd":
        comspec = os.environ.get("COMSPEC", "cmd.exe")
        return f'"{comspec}" /D /E:ON /V:OFF /S /C "CALL "{script_path}""'
    if shell in SHELLS:
        return [part.replace("{0}", script_path) for part in SHELLS[shell][0]]
    if os.name == "nt":
        return shell.replace("{0}", script_path)
    import shlex

    return [part.replace("{0}", script_path) for part in shlex.split(shell)]


def _script_text(shell: str, script: str) -> str:
    if shell in ("pwsh", "powershell"):
        return PWSH_PROLOGUE + script + PWSH_EPILOGUE
    return script


def _write_script(temp_dir: str, suffix: str, text: str, shell: str) -> str:
    path = os.path.join(temp_dir, f"heatmeter-{os.getpid()}-{os.urandom(6).hex()}{suffix}")
    data = text.encode("utf-8")
    if shell == "powershell":
        # Windows PowerShell reads a file without a byte order mark in the ANSI code page.
        data = b"\xef\xbb\xbf" + data
    descriptor = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o700
    )
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def _resolve(argv: list[str] | str) -> list[str] | str:
    # Windows' CreateProcess looks in System32 before PATH, where `bash` is WSL's, not the
    # Git Bash a runner means; resolve through PATH the way the runner does.
    if os.name == "nt" and isinstance(argv, list):
        import shutil

        found = shutil.which(argv[0])
        if found:
            return [found, *argv[1:]]
    return argv


def run(
    script: str,
    shell: str,
    *,
    temp_dir: str,
    env: dict[str, str],
    while_running: Callable[[], None] = lambda: None,
) -> CommandResult:
    """Run `script`, its output going straight to the log, while `while_running` runs.

    SIGINT and SIGTERM sent to the action (a cancelled job) are passed on to the command and
    mark the result cancelled. Raises ShellError, or OSError when the shell cannot start.
    """
    path = _write_script(temp_dir, script_suffix(shell), _script_text(shell, script), shell)
    child: subprocess.Popen[bytes] | None = None
    cancelled = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal cancelled
        cancelled = True
        # On Windows the console delivers Ctrl-C to the command itself; only POSIX forwards.
        if child is not None and child.poll() is None and os.name == "posix":
            child.send_signal(signum)

    # The handlers stay installed after the command ends, so that a second signal while the
    # report is sent ends nothing with a traceback; the runner kills the step when it must.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    try:
        try:
            argv = _resolve(command_line(shell, path))
        except ValueError as exc:  # shlex: unbalanced quotes in a custom template
            raise ShellError(f"shell {shell!r} cannot be parsed: {exc}") from None
        started_epoch = time.time()
        started = time.monotonic()
        child = subprocess.Popen(argv, env=env)
        if cancelled and os.name == "posix":
            child.send_signal(signal.SIGTERM)
        # `while_running` works in a thread so that the command's end is timed when it
        # happens; a short switch interval hands the GIL back to this thread promptly.
        sys.setswitchinterval(0.0005)
        helper = threading.Thread(target=while_running, daemon=True)
        helper.start()
        code = child.wait()
        duration_ms = int((time.monotonic() - started) * 1000)
        helper.join()
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
    if code < 0:
        code = 128 - code  # killed by signal n: the shell convention 128 + n
    return CommandResult(code, started_epoch, duration_ms, cancelled)
