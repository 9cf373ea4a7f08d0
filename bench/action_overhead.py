"""How much wall time the action adds around a no-op command, against a Python start-up.

Runs, interleaved N times each and all with one interpreter (this one, unless --python):
`python3 -c pass`, `python3 -I -S -c pass` (the floor of any Python program), `sh -c true`,
the action in run mode running `true` and reporting to a local stdlib HTTP server that
answers 202 (no heatmeter service needed), and the same from a fresh copy of `action/`
without any .pyc file: the first heatmeter step of a job, since a runner downloads the
action for every job and the first step compiles what later steps read from the cache.

Prints the median and p90 of each case, then the action's added time (action - `sh -c
true`, sample by sample) for a warm step and for the first step, and the first step's extra
cost over a warm step, each over both Python start-ups. Budgets: a warm step adds at most
2x `python3 -c pass`; the first step costs at most 1.3x `python3 -c pass` more than a warm
one.

The first step writes its .pyc files, a dozen file creations: on a disk that others keep
busy its figure follows their writes; `TMPDIR=/dev/shm` measures it with the disk left out.

    python3 bench/action_overhead.py [--runs 40] [--python /path/to/python3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "action" / "main.py"
WARM = "action run: true"
COLD = "action, first in a job"
BASELINES = ("python3 -c pass", "python3 -I -S -c pass")
BUDGET = 2.0  # warm: added time over `python3 -c pass`
FIRST_STEP_BUDGET = 1.3  # first step: extra over a warm step, over `python3 -c pass`


def ignore_pycache(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


class Accepting(BaseHTTPRequestHandler):
    """Answers every report like the service does when it stores one."""

    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Accepting.received += 1
        body = json.dumps({"id": Accepting.received, "duplicate": False}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def action_env(workdir: Path, service_url: str) -> dict[str, str]:
    for name in ("output", "summary"):
        (workdir / name).touch()
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(workdir)),
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_WORKFLOW": "CI",
        "GITHUB_RUN_ID": "1",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "bench",
        "GITHUB_ACTION": "__run",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_EVENT_NAME": "push",
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(workdir),
        "GITHUB_OUTPUT": str(workdir / "output"),
        "GITHUB_STEP_SUMMARY": str(workdir / "summary"),
        "INPUT_TASK": "bench",
        "INPUT_KIND": "other",
        "INPUT_RUN": "true",
        "INPUT_SHELL": "bash",
        "INPUT_SERVICE_URL": service_url,
        "INPUT_SECRET": "bench-secret",
        "INPUT_AUDIENCE": "heatmeter",
        "INPUT_FAIL_ON_REPORT_ERROR": "true",
    }


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    # No `timeout=`: with one, Popen.wait polls with a doubling sleep, and every sample
    # snaps to 2^n ms. The action bounds itself (7 s of reporting at worst).
    completed = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - began
    if completed.returncode != 0:
        raise SystemExit(f"{argv} exited with {completed.returncode}")
    return elapsed * 1000


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accepting)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="heatmeter-bench-") as temp:
            env = action_env(Path(temp), f"http://127.0.0.1:{server.server_address[1]}")
            cases = {
                "python3 -c pass": ([args.python, "-c", "pass"], None),
                "python3 -I -S -c pass": ([args.python, "-I", "-S", "-c", "pass"], None),
                "sh -c true": (["sh", "-c", "true"], None),
                WARM: ([args.python, "-I", "-S", str(MAIN)], env),
            }
            for argv, case_env in cases.values():  # warm the page cache and .pyc files
                timed(argv, case_env)
            # One fresh copy of action/ per first step, all made before timing starts: a
            # runner downloads the job's actions while it sets the job up, not just before
            # the step, so the copy's own writes are not part of what the step waits for.
            copies = [Path(temp) / f"cold-{run}" / "action" for run in range(args.runs)]
            for copy in copies:
                shutil.copytree(MAIN.parent, copy, ignore=ignore_pycache)
            Accepting.received = 0
            samples: dict[str, list[float]] = {name: [] for name in cases}
            samples[COLD] = []
            for copy in copies:  # interleaved, so drift hits every case alike
                for name, (argv, case_env) in cases.items():
                    samples[name].append(timed(argv, case_env))
                samples[COLD].append(timed([args.python, "-I", "-S", str(copy / "main.py")], env))
    finally:
        server.shutdown()
        server.server_close()

    if Accepting.received != 2 * args.runs:
        raise SystemExit(f"expected {2 * args.runs} reports, the server got {Accepting.received}")
    print(f"interpreter: {args.python}  runs: {args.runs}  reports received: {Accepting.received}")
    print(f"{'case':<34}{'median ms':>10}{'p90 ms':>9}")
    for name, values in samples.items():
        print(f"{name:<34}{statistics.median(values):>10.1f}{p90(values):>9.1f}")
    bare = {name: statistics.median(samples[name]) for name in BASELINES}
    print(f"\n{'':<34}{'median ms':>10}{'p90 ms':>9}" + "".join(f"{'/ ' + b:>24}" for b in bare))
    differences = {
        "added by a warm step": (WARM, "sh -c true"),
        "added by the first step of a job": (COLD, "sh -c true"),
        "first step's extra over a warm one": (COLD, WARM),
    }
    ratios = {}
    for label, (case, base) in differences.items():
        pairs = [a - b for a, b in zip(samples[case], samples[base], strict=True)]
        median = statistics.median(samples[case]) - statistics.median(samples[base])
        ratios[label] = median / bare["python3 -c pass"]
        shares = "".join(f"{median / value:>24.2f}" for value in bare.values())
        print(f"{label:<34}{median:>10.1f}{p90(pairs):>9.1f}{shares}")
    warm = ratios["added by a warm step"]
    first = ratios["first step's extra over a warm one"]
    print(
        f"\nbudget, warm: added <= {BUDGET:.2f} x python3 -c pass: "
        f"{'within' if warm <= BUDGET else 'OVER'} ({warm:.2f})"
    )
    print(
        f"budget, first step: extra over warm <= {FIRST_STEP_BUDGET:.2f} x python3 -c pass: "
        f"{'within' if first <= FIRST_STEP_BUDGET else 'OVER'} ({first:.2f})"
    )


if __name__ == "__main__":
    main()
