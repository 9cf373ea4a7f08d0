"""webhook_deliveries keeps delivery ids for the retention, no longer; the settings for it."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from heatmeter.settings import Settings, SettingsError
from heatmeter.webhooks import retention

DAY = 86400.0


async def add_delivery(db: asyncpg.Connection, delivery_id: str, days_ago: float) -> None:
    await db.execute(
        """INSERT INTO webhook_deliveries (delivery_id, event, received_at)
           VALUES ($1, 'ping', now() - make_interval(secs => $2))""",
        delivery_id,
        days_ago * DAY,
    )


async def remaining(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id")
    return [row["delivery_id"] for row in rows]


async def test_deliveries_past_the_retention_are_pruned_in_batches(db: asyncpg.Connection) -> None:
    for n in range(5):
        await add_delivery(db, f"old-{n}", days_ago=31 + n)
    await add_delivery(db, "recent", days_ago=29)
    await db.execute(
        """INSERT INTO webhook_redeliveries (guid, attempt_id, event, requested_at)
           VALUES ('asked-long-ago', 1, 'ping', now() - interval '40 days'),
                  ('asked-lately', 2, 'ping', now())"""
    )

    assert await retention.prune(db, 30 * DAY, batch=2) == 6
    assert await remaining(db) == ["recent"]
    assert await db.fetchval("SELECT array_agg(guid) FROM webhook_redeliveries") == ["asked-lately"]


async def test_the_service_prunes_on_a_schedule(database_url: str, db: asyncpg.Connection) -> None:
    await add_delivery(db, "old", days_ago=40)
    await add_delivery(db, "recent", days_ago=1)
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=1)
    task = asyncio.create_task(retention.keep_pruned(pool, 30 * DAY, first_after_s=0))
    try:
        deadline = time.monotonic() + 30
        while await remaining(db) != ["recent"]:
            assert time.monotonic() < deadline, "never pruned"
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pool.close()


def test_durations_take_units_and_plain_seconds() -> None:
    settings = Settings.from_env(
        {
            "HEATMETER_DELIVERY_SWEEP_INTERVAL": "5m",
            "HEATMETER_DELIVERY_LOOKBACK": "36h",
            "HEATMETER_WEBHOOK_RETENTION": "14d",
        }
    )
    assert settings.delivery_sweep_interval_s == 300
    assert settings.delivery_lookback_s == 36 * 3600
    assert settings.webhook_retention_s == 14 * DAY
    assert Settings.from_env({}).webhook_retention_s == 30 * DAY
    plain = Settings.from_env({"HEATMETER_DELIVERY_SWEEP_INTERVAL": "90"})
    assert plain.delivery_sweep_interval_s == 90


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEATMETER_WEBHOOK_RETENTION": "2d"}, "longer than HEATMETER_DELIVERY_LOOKBACK"),
        ({"HEATMETER_DELIVERY_LOOKBACK": "5 weeks"}, "HEATMETER_DELIVERY_LOOKBACK must be"),
        ({"HEATMETER_OUTBOX_MAX_REFUSALS": "0"}, "at least 1"),
    ],
)
def test_unusable_outage_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
