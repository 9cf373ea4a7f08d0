"""Reading a step's GITHUB_OUTPUT file the way the runner does, and moving a start back in time."""

from __future__ import annotations

import json
from pathlib import Path


def shift_start_back(temp: Path, seconds: float, step: str | None = None) -> None:
    """Make the `phase: start` records in RUNNER_TEMP (only ``step``'s, if given) say the
    task started ``seconds`` earlier: an injected clock for the duration `phase: finish`
    measures, in place of a real sleep between the two steps."""
    states = sorted(temp.glob("heatmeter-state-*.json"))
    assert states, f"no start record in {temp}"
    for state in states:
        record = json.loads(state.read_text(encoding="utf-8"))
        if step is not None and record.get("id") != step:
            continue
        record["started_epoch"] -= seconds
        record["started_monotonic"] -= seconds
        state.write_text(json.dumps(record), encoding="utf-8")


def parse_outputs(text: str) -> dict[str, str]:
    """`name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        heredoc = "<<" in line and ("=" not in line or line.index("<<") < line.index("="))
        if not heredoc:
            name, value = line.split("=", 1)
            outputs[name] = value
            continue
        name, delimiter = line.split("<<", 1)
        value_lines = []
        for body_line in lines:
            if body_line == delimiter:
                break
            value_lines.append(body_line)
        outputs[name] = "\n".join(value_lines)
    return outputs
