"""The action run as a runner runs it (`python3 -I -S action/main.py`), against a local server."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from action import report as reporting
from action import workflow_commands as wf

from .harness import (
    ACTION_PYTHON,
    MAIN,
    OIDC_JWT,
    POSIX_ONLY,
    REQUEST_TOKEN,
    SECRET,
    RecordingServer,
    Runner,
    annotations,
    check_contract,
    check_signature,
)
from .outputs import parse_outputs, shift_start_back

# --- run: mode ---------------------------------------------------------------------------


@POSIX_ONLY
def test_passing_command_is_timed_signed_and_summarised(
    run_action: Runner, server: RecordingServer
) -> None:
    result = run_action(
        task="deploy",
        kind="deploy",
        run="echo hello from the task\nsleep 0.2",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("hello from the task") > lines.index("::group::heatmeter: deploy (deploy)")
    assert lines.index("::endgroup::") > lines.index("hello from the task")
    assert result.outputs["outcome"] == "success"
    assert int(result.outputs["duration-ms"]) >= 200  # the command's sleep 0.2
    assert annotations(result.stdout, "warning") == []
    assert "Traceback" not in result.stderr

    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/reports"
    check_signature(request)
    report = request.json()
    check_contract(report, "finish")
    assert report["task"] == "deploy"
    assert report["kind"] == "deploy"
    assert report["step"] == "__octo_heatmeter"
    assert report["outcome"] == "success"
    assert report["exit_code"] == 0
    assert report["duration_ms"] == int(result.outputs["duration-ms"])

    assert "| Task | Kind | Outcome | Duration | Report |" in result.summary
    assert "| ` deploy ` | deploy | ✅ success |" in result.summary
    assert result.summary.rstrip().endswith("| sent |")
    assert list((run_action.workdir / "temp").iterdir()) == []  # the script file is gone


@POSIX_ONLY
def test_failing_command_keeps_its_exit_code(run_action: Runner, server: RecordingServer) -> None:
    result = run_action(
        task="provision db",
        run="echo partial; exit 7",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert result.returncode == 7
    assert result.outputs["outcome"] == "failure"
    report = server.reports()[0].json()
    check_contract(report, "finish")
    assert report["outcome"] == "failure"
    assert report["exit_code"] == 7
    assert "❌ failure" in result.summary


@POSIX_ONLY
def test_command_killed_by_a_signal_exits_128_plus_n(
    run_action: Runner, server: RecordingServer
) -> None:
    result = run_action(
        task="t", run="kill -TERM $$", **{"service-url": server.url, "secret": SECRET}
    )

    assert result.returncode == 128 + signal.SIGTERM
    assert server.reports()[0].json()["exit_code"] == 128 + signal.SIGTERM


@POSIX_ONLY
@pytest.mark.parametrize(
    ("shell", "script", "code"),
    [
        ("sh", "false\necho not reached", 1),
        ("bash", "false | true", 1),  # pipefail, as in GitHub's bash template
        (f"{sys.executable} {{0}}", "import sys; sys.exit(4)", 4),
        ("python3 -I {0}", "print('ok')", 0),
    ],
)
def test_shells_follow_github_templates(
    run_action: Runner, shell: str, script: str, code: int
) -> None:
    result = run_action(task="t", run=script, shell=shell)

    assert result.returncode == code, result.stdout + result.stderr
    assert "not reached" not in result.stdout


def test_unknown_shell_is_a_clear_error(run_action: Runner) -> None:
    result = run_action(task="t", run="true", shell="no-such-shell-here {0}")  # noqa: S604

    assert result.returncode == 127
    assert any("no-such-shell-here" in line for line in annotations(result.stdout, "error"))
    assert result.outputs["outcome"] == "failure"
    assert "Traceback" not in result.stderr


@POSIX_ONLY
def test_cancelled_job_forwards_the_signal_and_reports_cancelled(
    run_action: Runner, server: RecordingServer
) -> None:
    marker = run_action.workdir / "started"
    env = run_action.action_env(
        None,
        {
            "task": "long deploy",
            "run": f"touch '{marker}'\nexec sleep 30",
            "service-url": server.url,
            "secret": SECRET,
        },
    )
    action = subprocess.Popen(
        [ACTION_PYTHON, "-I", "-S", str(MAIN)], env=env, stdout=subprocess.PIPE, text=True
    )
    while not marker.exists():  # until the command runs
        time.sleep(0.02)
    action.send_signal(signal.SIGTERM)
    # It ends on the signal, not after the command's 30 s: pytest's timeout would stop it.
    stdout, _ = action.communicate()

    assert action.returncode == 128 + signal.SIGTERM
    report = server.reports()[0].json()
    assert report["outcome"] == "cancelled"
    assert parse_outputs((run_action.workdir / "output").read_text())["outcome"] == "cancelled"
    assert "::endgroup::" in stdout


# --- phase: start / finish -----------------------------------------------------------------


def test_start_then_finish_reports_both_with_one_step_key(
    run_action: Runner, server: RecordingServer
) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    started = run_action(task="scaffold", kind="scaffolding", phase="start", **service)
    shift_start_back(run_action.workdir / "temp", 300)  # "started 5 minutes ago"
    run_action.env["GITHUB_ACTION"] = "__run_7"  # the finish is another step
    finished = run_action(task="scaffold", phase="finish", outcome="success", **service)

    assert (started.returncode, finished.returncode) == (0, 0)
    start, finish = (request.json() for request in server.reports())
    for request in server.reports():
        check_signature(request)
    check_contract(start, "start")
    check_contract(finish, "finish")
    assert start["step"] == finish["step"] == "__octo_heatmeter"
    assert finish["kind"] == "scaffolding"  # the start decides the kind
    assert finish["started_at"] == start["started_at"]
    assert finish["outcome"] == "success"
    assert "exit_code" not in finish
    assert finish["duration_ms"] >= 300_000
    assert finished.outputs == {"duration-ms": str(finish["duration_ms"]), "outcome": "success"}
    assert "scaffolding | ✅ success" in finished.summary
    assert list((run_action.workdir / "temp").iterdir()) == []  # state removed


def test_version_is_reported_and_the_start_decides_it(
    run_action: Runner, server: RecordingServer
) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    run_action(task="deploy", version="v3", phase="start", **service)
    finished = run_action(task="deploy", phase="finish", outcome="success", **service)
    run_action(task="lint", phase="start", **service)
    run_action(task="lint", phase="finish", outcome="success", **service)

    assert finished.returncode == 0
    deploy_start, deploy_finish, lint_start, lint_finish = (r.json() for r in server.reports())
    assert deploy_start["version"] == deploy_finish["version"] == "v3"
    assert "version" not in lint_start
    assert "version" not in lint_finish


@pytest.mark.parametrize("version", ["v" * 101, "v3\nv4"])
def test_a_bad_version_is_a_configuration_error(
    run_action: Runner, server: RecordingServer, version: str
) -> None:
    result = run_action(
        task="deploy", version=version, run="true", **{"service-url": server.url, "secret": SECRET}
    )
    assert result.returncode == 0  # the command ran and passed; only the report is refused
    [error] = annotations(result.stdout, "error")
    assert "version must" in error
    assert server.requests == []


def test_finish_failure_outcome(run_action: Runner, server: RecordingServer) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    run_action(task="deploy", phase="start", **service)
    finished = run_action(task="deploy", phase="finish", outcome="failure", **service)

    assert finished.returncode == 0  # the timed step failed, not the report
    assert server.reports()[1].json()["outcome"] == "failure"
    assert finished.outputs["outcome"] == "failure"


def test_overlapping_tasks_are_kept_apart_by_id(
    run_action: Runner, server: RecordingServer
) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    run_action(task="deploy", id="eu", phase="start", **service)
    run_action(task="deploy", id="us", phase="start", **service)
    # Each finish must read its own start: eu's started 1000 s ago, us's 3000 s ago.
    shift_start_back(run_action.workdir / "temp", 1000, step="eu")
    shift_start_back(run_action.workdir / "temp", 3000, step="us")
    eu = run_action(task="deploy", id="eu", phase="finish", outcome="failure", **service)
    us = run_action(task="deploy", id="us", phase="finish", outcome="success", **service)

    reports = [request.json() for request in server.reports()]
    assert [(r["step"], r["phase"], r.get("outcome")) for r in reports] == [
        ("eu", "start", None),
        ("us", "start", None),
        ("eu", "finish", "failure"),
        ("us", "finish", "success"),
    ]
    assert 1_000_000 <= int(eu.outputs["duration-ms"]) < 3_000_000
    assert int(us.outputs["duration-ms"]) >= 3_000_000
    assert annotations(eu.stdout + us.stdout, "warning") == []


def test_finish_without_start_is_a_configuration_error(
    run_action: Runner, server: RecordingServer
) -> None:
    service = {"service-url": server.url, "secret": SECRET}
    result = run_action(task="deploy", phase="finish", outcome="success", **service)

    assert result.returncode == 0
    [error] = annotations(result.stdout, "error")
    assert "no phase: start was recorded for task 'deploy'" in error
    assert "Traceback" not in result.stderr
    assert server.requests == []

    strict = run_action(
        task="deploy",
        phase="finish",
        outcome="success",
        **service,
        **{"fail-on-report-error": "true"},
    )
    assert strict.returncode == 1


def test_finish_with_unknown_outcome_is_a_configuration_error(run_action: Runner) -> None:
    run_action(task="deploy", phase="start")
    result = run_action(task="deploy", phase="finish", outcome="exploded")

    assert result.returncode == 0
    [error] = annotations(result.stdout, "error")
    assert "outcome" in error
    assert "'exploded'" in error
    assert "Traceback" not in result.stderr


# --- authentication ------------------------------------------------------------------------


def test_oidc_token_is_fetched_and_sent_as_bearer(
    run_action: Runner, server: RecordingServer
) -> None:
    oidc_env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{server.url}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    }
    result = run_action(oidc_env, task="deploy", phase="start", **{"service-url": server.url})

    assert result.returncode == 0
    token_request, report = server.requests
    assert token_request.method == "GET"
    parts = urlsplit(token_request.path)
    assert parts.path == "/token"
    assert parse_qs(parts.query) == {"api-version": ["2.0"], "audience": ["heatmeter"]}
    assert token_request.headers["authorization"] == f"bearer {REQUEST_TOKEN}"
    assert report.headers["authorization"] == f"Bearer {OIDC_JWT}"
    assert "x-heatmeter-signature-256" not in report.headers
    assert f"::add-mask::{OIDC_JWT}" in result.stdout.splitlines()
    assert result.stdout.count(OIDC_JWT) == 1
    assert REQUEST_TOKEN not in result.stdout + result.stderr


def test_oidc_failure_falls_back_to_the_secret(run_action: Runner, server: RecordingServer) -> None:
    server.token_answer = (403, {"message": "no id-token permission"})
    oidc_env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{server.url}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    }
    result = run_action(
        oidc_env,
        task="deploy",
        phase="start",
        audience="custom",
        **{"service-url": server.url, "secret": SECRET},
    )

    assert result.returncode == 0
    assert "audience=custom" in server.requests[0].path
    check_signature(server.reports()[0])
    assert any(
        "signing the report with the secret" in w for w in annotations(result.stdout, "warning")
    )


def test_without_token_or_secret_nothing_is_sent(
    run_action: Runner, server: RecordingServer
) -> None:
    result = run_action(task="deploy", run="true", **{"service-url": server.url})

    assert result.returncode == 0
    assert server.requests == []
    [warning] = annotations(result.stdout, "warning")
    assert "id-token: write" in warning
    assert "not sent (no credentials)" in result.summary


def test_without_service_url_it_warns_and_still_runs(run_action: Runner) -> None:
    result = run_action(task="deploy", run="exit 0", secret=SECRET)

    assert result.returncode == 0
    [warning] = annotations(result.stdout, "warning")
    assert "service-url is not set" in warning
    assert result.outputs["outcome"] == "success"


def test_secret_is_masked_and_never_printed(run_action: Runner, server: RecordingServer) -> None:
    # `env` prints the command's whole environment: the secret input must not be in it.
    result = run_action(
        task="deploy", run="env; echo done", **{"service-url": server.url, "secret": SECRET}
    )

    assert result.returncode == 0
    assert "done" in result.stdout
    assert result.stdout.splitlines()[0] == f"::add-mask::{SECRET}"
    assert result.stdout.count(SECRET) == 1
    assert SECRET not in result.stderr
    assert SECRET not in result.summary
    assert "INPUT_SECRET" not in result.stdout


# --- the summary table and other pure pieces -------------------------------------------------


def _cells(row: str) -> list[str]:
    """Split a GFM table row as cmark-gfm does: `\\x` escapes x, other `|` are borders."""
    cells, current, chars = [], "", iter(row.strip()[1:-1])
    for char in chars:
        if char == "\\":
            current += char + next(chars, "")
        elif char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
    return [*cells, current]


def test_summary_escapes_hostile_task_names(run_action: Runner) -> None:
    task = "x|y @octo/team [link](https://evil.example) <img src=x> `tick` a\\|b"
    result = run_action(task=task, run="true")

    row = result.summary.strip().splitlines()[-1]
    cells = _cells(row)
    assert len(cells) == 5
    code = cells[0].strip()
    # A code span: nothing in it is a mention, a link or HTML.
    assert code.startswith("`` ")
    assert code.endswith(" ``")
    assert code[3:-3].replace("\\|", "|").replace("\u200b", "") == task


@pytest.mark.parametrize(
    "name", ["plain", "`", "``x``", "a|b", "a\\|b", "ends with \\", "line\nbreak", "   "]
)
def test_code_cell_is_one_cell(name: str) -> None:
    cell = wf.markdown_code_cell(name)

    assert len(_cells(f"| {cell} |")) == 1
    assert "\n" not in cell


def test_outputs_use_the_heredoc_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    wf.set_outputs({"outcome": "success\nevil=1", "duration-ms": "12"})

    assert parse_outputs(path.read_text()) == {"outcome": "success\nevil=1", "duration-ms": "12"}


def test_workflow_command_data_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    wf.warning("100% down\n::error::injected")

    assert capsys.readouterr().out == "::warning title=heatmeter::100%25 down%0A::error::injected\n"


def test_pull_request_number_from_each_event(tmp_path: Path) -> None:
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"issue": {"number": 9, "pull_request": {"url": "u"}}}))
    assert reporting.pull_request_number("issue_comment", str(payload)) == 9
    payload.write_text(json.dumps({"issue": {"number": 9}}))
    assert reporting.pull_request_number("issue_comment", str(payload)) is None
    payload.write_text(json.dumps({"pull_request": {"number": 5}}))
    assert reporting.pull_request_number("pull_request_target", str(payload)) == 5
    assert reporting.pull_request_number("push", str(payload)) is None
    assert reporting.pull_request_number("pull_request", str(tmp_path / "missing.json")) is None


def test_a_workflow_run_reports_the_triggering_runs_branch(tmp_path: Path) -> None:
    # GITHUB_SHA and GITHUB_REF name the default branch in workflow_run runs; the
    # service ties such a run to a PR by the triggering run's head branch.
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"workflow_run": {"head_branch": "feature/x", "id": 7}}))
    environ = {
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_WORKFLOW": "CD",
        "GITHUB_JOB": "deploy",
        "GITHUB_RUN_ID": "12",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(payload),
    }
    fields = reporting.run_fields(environ)
    assert (fields["ref"], fields["head_ref"]) == ("refs/heads/main", "feature/x")
    assert "pull_request" not in fields
    payload.write_text(json.dumps({"workflow_run": {"head_branch": None}}))
    assert "head_ref" not in reporting.run_fields(environ)


def test_non_ascii_task_names_survive_any_console(
    run_action: Runner, server: RecordingServer
) -> None:
    result = run_action(
        task="déployer 🚀", run="true", **{"service-url": server.url, "secret": SECRET}
    )

    assert result.returncode == 0
    assert server.reports()[0].json()["task"] == "déployer 🚀"
    assert "` déployer 🚀 `" in result.summary


# --- start-up cost: the hot path stays on private C modules ------------------------------------

# Each of these costs milliseconds to import under `python3 -I -S` (bench/action_overhead.py);
# the action's run/start/finish paths over http with a secret must not need any of them.
HEAVY_MODULES = frozenset(
    {
        "collections", "contextlib", "datetime", "email", "encodings.idna", "enum", "hashlib",
        "hmac", "http", "http.client", "json", "os", "random", "re", "selectors", "shlex",
        "signal", "socket", "ssl", "subprocess", "tempfile", "threading", "typing", "urllib",
        "urllib.parse", "urllib.request", "base64",
    }
)  # fmt: skip


def imported_modules(stderr: str) -> set[str]:
    """The modules `-X importtime` reports (lines `import time: self | cumulative | name`)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@POSIX_ONLY
@pytest.mark.parametrize(
    "inputs",
    [
        {"task": "deploy", "run": "true"},
        {"task": "deploy", "phase": "start"},
    ],
)
def test_hot_path_imports_no_heavy_module(
    run_action: Runner, server: RecordingServer, inputs: dict[str, str]
) -> None:
    env = run_action.action_env(None, {**inputs, "service-url": server.url, "secret": SECRET})
    completed = subprocess.run(
        [ACTION_PYTHON, "-I", "-S", "-X", "importtime", str(MAIN)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert len(server.reports()) == 1
    assert server.reports()[0].json()["pull_request"] == 42  # the event payload was read
    modules = imported_modules(completed.stderr)
    assert {"action.modes", "action.http1", "action.report"} <= modules  # parsed right
    assert sorted(modules & HEAVY_MODULES) == []
    assert "action.proxy" not in modules  # no proxy variable, no proxy code


# --- the hand-written pieces, checked against the standard library ----------------------------


@pytest.mark.parametrize("key_length", [0, 1, 15, 63, 64, 65, 200])
def test_hmac_matches_the_standard_library(key_length: int) -> None:
    key = bytes(range(256))[:key_length]
    for message in (b"", b"{}", os.urandom(1000)):
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        assert reporting.hmac_sha256(key, message) == expected
    assert reporting.sign(SECRET, b"body") == (
        "sha256=" + hmac.new(SECRET.encode(), b"body", hashlib.sha256).hexdigest()
    )


HOSTILE_STRINGS = [
    "",
    "plain",
    'quote " and backslash \\ and \\"',
    "".join(chr(code) for code in range(0x20)) + "\x7f",
    "déployer 🚀 \u2028\u2029 \ufeff 中文",
    "</script>",
]


def test_json_encoder_round_trips_through_json_loads() -> None:
    from action import jsonlite

    record: dict[str, object] = {text or "empty": text for text in HOSTILE_STRINGS}
    record.update(
        {"n": 0, "big": 2**70, "neg": -7, "f": 0.1, "e": 1e-9, "t": True, "no": False, "z": None}
    )
    text = jsonlite.dumps(record)

    assert json.loads(text) == record
    assert list(json.loads(text)) == list(record)  # order kept
    assert "\n" not in text
    with pytest.raises(ValueError, match="JSON"):
        jsonlite.dumps({"x": float("nan")})
    with pytest.raises(TypeError):
        jsonlite.dumps({"x": [1]})


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 7, "duplicate": false}',
        '  \n{"a": [1, 2.5, -3e2, true, null, {"b": "\\u00e9\\ud83d\\ude80"}], "c": {}}\r\n',
        '"just a string"',
        "[]",
        "NaN",
        json.dumps({"pull_request": {"number": 42, "title": "x" * 10000}}),
    ],
)
def test_json_decoder_agrees_with_json_loads(text: str) -> None:
    from action import jsonlite

    expected = json.loads(text)
    decoded = jsonlite.loads(text.encode())
    assert decoded == expected or (decoded != decoded and expected != expected)  # NaN


@pytest.mark.parametrize("text", ["", "{", '{"a" 1}', '{"a": 1,}', "[1] [2]", "nul", "\ufeff{}"])
def test_json_decoder_rejects_what_json_loads_rejects(text: str) -> None:
    from action import jsonlite

    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError, like json.loads
        jsonlite.loads(text)


@POSIX_ONLY
def test_command_gets_default_sigpipe_like_a_run_step(run_action: Runner) -> None:
    # Python ignores SIGPIPE; a command that inherited that would see EPIPE instead of dying.
    script = 'set +eo pipefail\nyes | head -n 1 >/dev/null\necho "yes ended ${PIPESTATUS[0]}"'
    result = run_action(task="t", run=script)

    assert f"yes ended {128 + signal.SIGPIPE}" in result.stdout, result.stdout + result.stderr
