"""Start/finish state: what `phase: start` leaves in RUNNER_TEMP for `phase: finish` to read."""

from __future__ import annotations

from action import jsonlite, system
from action.report import sha256


def _state_path(temp_dir: str, task: str, step_id: str) -> str:
    # Task names are free text; a digest makes a safe, bounded file name that still keys
    # each (task, id) pair on its own, so overlapping tasks never share a file.
    digest = sha256(f"{task}\0{step_id}".encode()).hexdigest()[:32]
    return system.join(temp_dir, f"heatmeter-state-{digest}.json")


def save(temp_dir: str, task: str, step_id: str, record: dict[str, object]) -> bool:
    """Write the start record; True when it replaced an earlier unfinished start."""
    path = _state_path(temp_dir, task, step_id)
    replaced = system.exists(path)
    partial = f"{path}.{system.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(jsonlite.dumps({"task": task, "id": step_id, **record}))
    system.replace(partial, path)
    return replaced


def load(temp_dir: str, task: str, step_id: str) -> dict[str, object] | None:
    """The start record of (task, id), or None when no start ran in this job."""
    try:
        with open(_state_path(temp_dir, task, step_id), "rb") as handle:
            record = jsonlite.loads(handle.read())
    except (OSError, ValueError):  # missing, or not written by a start of this version
        return None
    return record if isinstance(record, dict) else None


def remove(temp_dir: str, task: str, step_id: str) -> None:
    try:
        system.remove(_state_path(temp_dir, task, step_id))
    except FileNotFoundError:
        pass
