"""The scorecard's link from PR comments, and the settings that configure the scorecard."""

from __future__ import annotations

import pytest

from heatmeter.settings import Settings, SettingsError
from heatmeter.summary.escape import safe_https_url
from heatmeter.summary.links import scorecard_link

BASE = "https://heatmeter.example"


def test_one_task_links_to_its_page_several_to_the_repository_scorecard() -> None:
    assert scorecard_link(None, "octo/a", ["deploy"]) is None
    assert scorecard_link(BASE, "octo/a", ["deploy", "deploy"]) == (
        f"{BASE}/tasks/deploy?repository=octo%2Fa"
    )
    assert scorecard_link(BASE, "octo/a", ["deploy", "lint"]) == f"{BASE}/?repository=octo%2Fa"
    assert scorecard_link(BASE, "octo/a", ["x.json"]) == f"{BASE}/?repository=octo%2Fa"
    for link in (scorecard_link(BASE, "octo/a", tasks) for tasks in (["a"], ["a", "b"])):
        assert safe_https_url(link) == link


def test_a_hostile_task_name_stays_inside_the_link() -> None:
    link = scorecard_link(BASE, "octo/a", ["a) [b](javascript:x) <img src=x>"])
    assert link is not None
    # The comment renderer only accepts plain https URLs; this one passes as it is.
    assert safe_https_url(link) == link
    assert " " not in link
    assert "(" not in link
    assert "<" not in link


def test_settings_read_the_token_and_the_public_url() -> None:
    settings = Settings.from_env(
        {"HEATMETER_READ_TOKEN": " s3cret ", "HEATMETER_PUBLIC_URL": "https://h.example/"}
    )
    assert settings.read_token == "s3cret"
    assert settings.public_url == "https://h.example"
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({}).read_token is None


@pytest.mark.parametrize("value", ["h.example", "ftp://h.example", "https://", "https://h/?a=1"])
def test_a_public_url_that_is_not_a_base_url_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="HEATMETER_PUBLIC_URL"):
        Settings.from_env({"HEATMETER_PUBLIC_URL": value})
