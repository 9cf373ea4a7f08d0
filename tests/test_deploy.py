"""deploy/: the compose file and Grafana's provisioning parse, and every panel's SQL runs.

Docker is not needed: the files are read as Docker and Grafana read them, and each
dashboard query is executed, Grafana macros expanded, against a database holding the
demo history, so the dashboard cannot drift from the schema.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from heatmeter import clock
from heatmeter.demo.history import generate
from heatmeter.demo.store import write_demo

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
_ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)[^}]*\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "docker-compose.yml")


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "heat.json").read_text())


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a compose service, as {source on the host: target in the container}."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[source] = target
    return found


def test_compose_runs_the_service_postgres_and_grafana() -> None:
    services = compose()["services"]
    assert set(services) == {"heatmeter", "postgres", "grafana"}
    assert (DEPLOY / services["heatmeter"]["build"]["context"] / "Dockerfile").is_file()
    assert "@postgres:5432/" in services["heatmeter"]["environment"]["DATABASE_URL"]
    # Published on localhost only; the read token is required, not defaulted.
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:")
    assert ":?" in services["heatmeter"]["environment"]["HEATMETER_READ_TOKEN"]
    for service in services.values():
        for source in mounts(service):
            assert (DEPLOY / source).exists(), source


def test_every_variable_compose_needs_is_in_the_example_env() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "example.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert set(_ENV_REFERENCE.findall(text)) <= example


def test_grafana_is_provisioned_with_the_data_source_and_the_dashboard() -> None:
    grafana = compose()["services"]["grafana"]
    targets = mounts(grafana)
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert targets["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (source,) = load_yaml(provisioning / "datasources" / "heatmeter.yml")["datasources"]
    assert source["type"] == "grafana-postgresql-datasource"
    assert source["url"] == "postgres:5432"
    assert (
        source["jsonData"]["database"]
        == compose()["services"]["postgres"]["environment"]["POSTGRES_DB"]
    )
    assert source["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"
    assert "GRAFANA_DB_PASSWORD" in grafana["environment"]
    (provider,) = load_yaml(provisioning / "dashboards" / "heatmeter.yml")["providers"]
    assert targets["./grafana/dashboards"] == provider["options"]["path"]
    board = dashboard()
    assert board["panels"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"]
            assert target["format"] in {"table", "time_series"}


def expand_macros(sql: str, start: datetime, end: datetime, variables: dict[str, str]) -> str:
    """Grafana's Postgres macros and template variables, expanded as Grafana does."""
    start_text, end_text = (f"'{moment.isoformat()}'" for moment in (start, end))
    sql = re.sub(
        r"\$__timeFilter\(([^()]+)\)",
        lambda match: f"{match[1].strip()} BETWEEN {start_text} AND {end_text}",
        sql,
    )
    sql = sql.replace("$__timeFrom()", start_text).replace("$__timeTo()", end_text)
    for name, value in variables.items():
        sql = re.sub(rf"\$\{{{name}\}}|\${name}\b", value, sql)
    leftover = re.search(r"\$_*[A-Za-z]", sql)
    assert leftover is None, f"unexpanded Grafana macro or variable: {sql[leftover.start() :]}"
    return sql


@pytest.fixture
async def demo_db(db: asyncpg.Connection) -> asyncpg.Connection:
    await write_demo(db, generate(clock.now()), force=False)
    return db


async def test_every_panel_query_runs_and_finds_rows(demo_db: asyncpg.Connection) -> None:
    board = dashboard()
    end = clock.now()
    start = end - timedelta(days=56)
    (task_variable,) = board["templating"]["list"]
    tasks = [row[0] for row in await demo_db.fetch(task_variable["query"])]
    assert "deploy" in tasks
    # "All" selected: Grafana expands a multi-value variable to a quoted, comma-separated list.
    variables = {"task": ", ".join("'" + task.replace("'", "''") + "'" for task in tasks)}
    for panel in board["panels"]:
        for target in panel["targets"]:
            sql = expand_macros(target["rawSql"], start, end, variables)
            rows = await demo_db.fetch(sql)
            assert rows, f"panel {panel['title']!r} found nothing in the demo history"
            if target["format"] == "time_series":
                assert next(iter(rows[0].keys())) == "time", panel["title"]


def test_the_macro_expansion_itself() -> None:
    # Fixed dates: the point is how they are written into the SQL.
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    sql = expand_macros(
        "SELECT 1 WHERE $__timeFilter(a.b) AND t IN ($task)", start, end, {"task": "'x'"}
    )
    assert sql == (
        "SELECT 1 WHERE a.b BETWEEN '2026-01-01T00:00:00+00:00' AND "
        "'2026-02-01T00:00:00+00:00' AND t IN ('x')"
    )
    with pytest.raises(AssertionError, match="unexpanded"):
        expand_macros("SELECT $__timeGroup(x, '1d')", start, end, {})
