"""Runs the wrapped command as a `run:` step would: a script file, GitHub's shell templates."""

# On POSIX the command starts with `posix.posix_spawnp` and is awaited with `waitpid`:
# `subprocess` costs about 20 ms to import under `python3 -I -S` (with `signal`'s enums,
# `threading`, `selectors`), more than the interpreter's own start-up. Signals are handled
# through `_signal`, the C half of `signal`, which is loaded before any Python code runs.
# Windows keeps `subprocess`, imported only there.

from __future__ import annotations

import _signal
import sys
import time

from action import system

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
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
    program = system.basename(shell.split(None, 1)[0]).lower().removesuffix(".exe")
    return SHELLS[program][1] if program in SHELLS else ""


def command_line(shell: str, script_path: str) -> list[str] | str:
    """The argv, or a command-line string for cmd and for custom templates on Windows."""
    if shell == "cmd":
        comspec = system.environ.get("COMSPEC", "cmd.exe")
        return f'"{comspec}" /D /E:ON /V:OFF /S /C "CALL "{script_path}""'
    if shell in SHELLS:
        return [part.replace("{0}", script_path) for part in SHELLS[shell][0]]
    if not system.POSIX:
        return shell.replace("{0}", script_path)
    import shlex  # custom templates only: shlex imports `re`

    return [part.replace("{0}", script_path) for part in shlex.split(shell)]


def _script_text(shell: str, script: str) -> str:
    if shell in ("pwsh", "powershell"):
        return PWSH_PROLOGUE + script + PWSH_EPILOGUE
    return script


def _write_script(temp_dir: str, suffix: str, text: str, shell: str) -> str:
    name = f"heatmeter-{system.getpid()}-{system.urandom(6).hex()}{suffix}"
    path = system.join(temp_dir, name)
    data = text.encode("utf-8")
    if shell == "powershell":
        # Windows PowerShell reads a file without a byte order mark in the ANSI code page.
        data = b"\xef\xbb\xbf" + data
    with open(path, "xb", opener=system.private_opener) as handle:
        handle.write(data)
    return path


def _remove(path: str) -> None:
    try:
        system.remove(path)
    except OSError:
        pass


# Python ignores these at start-up; a command must get their defaults back, as subprocess's
# restore_signals gives them, or `yes | head` complains of a broken pipe.
_RESTORED = ("SIGPIPE", "SIGXFZ", "SIGXFSZ")


class _Child:
    """The running command: started, signalled and awaited without `subprocess` on POSIX."""

    def __init__(self, argv: list[str] | str, env: dict[str, str]) -> None:
        self.running = False
        if system.POSIX:
            import posix

            if isinstance(argv, str):  # cmd's command line: on POSIX, as Popen, one program
                argv = [argv]
            defaults = [getattr(_signal, name) for name in _RESTORED if hasattr(_signal, name)]
            self.pid = posix.posix_spawnp(argv[0], argv, env, setsigdef=defaults)
            self.running = True
        else:
            import subprocess

            self.process = subprocess.Popen(_resolve(argv), env=env)
            self.running = True

    def signal(self, signum: int) -> None:
        # On Windows the console delivers Ctrl-C to the command itself; only POSIX forwards.
        if self.running and system.POSIX:
            import posix

            try:
                posix.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        """The exit code; 128 + n when a signal n ended the command (the shell convention)."""
        if system.POSIX:
            import posix

            _, status = posix.waitpid(self.pid, 0)  # retried by Python when a signal comes
            self.running = False
            code = posix.waitstatus_to_exitcode(status)
        else:
            code = self.process.wait()
            self.running = False
        return 128 - code if code < 0 else code


def _resolve(argv: list[str] | str) -> list[str] | str:
    # Windows' CreateProcess looks in System32 before PATH, where `bash` is WSL's, not the
    # Git Bash a runner means; resolve through PATH the way the runner does.
    if isinstance(argv, list):
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
    while_running: Callable[[], object] = lambda: None,
) -> CommandResult:
    """Run `script`, its output going straight to the log, while `while_running` runs.

    SIGINT and SIGTERM sent to the action (a cancelled job) are passed on to the command and
    mark the result cancelled. Raises ShellError, or OSError when the shell cannot start.
    """
    path = _write_script(temp_dir, script_suffix(shell), _script_text(shell, script), shell)
    child: _Child | None = None
    cancelled = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal cancelled
        cancelled = True
        if child is not None:
            child.signal(signum)

    # The handlers stay installed after the command ends, so that a second signal while the
    # report is sent ends nothing with a traceback; the runner kills the step when it must.
    for signum in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(signum, forward)
    try:
        try:
            argv = command_line(shell, path)
        except ValueError as exc:  # shlex: unbalanced quotes in a custom template
            raise ShellError(f"shell {shell!r} cannot be parsed: {exc}") from None
        started_epoch = time.time()
        started = time.monotonic()
        child = _Child(argv, env)
        if cancelled:
            child.signal(_signal.SIGTERM)
        # `while_running` works on another thread so that the command's end is timed when it
        # happens; a short switch interval hands the GIL back to this thread promptly.
        sys.setswitchinterval(0.0005)
        helper = system.Job()
        helper.start(while_running)
        code = child.wait()
        duration_ms = int((time.monotonic() - started) * 1000)
        helper.result()
    finally:
        _remove(path)
    return CommandResult(code, started_epoch, duration_ms, cancelled)
