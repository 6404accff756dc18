"""The staff usage chart renders in Chromium (uPlot, vendored) on the served app, under its
Content-Security-Policy, from the usage of a turn streamed there."""

from __future__ import annotations

import pytest

from tests.served_app import ServedApp, new_turn, wait_status

ROOT_PASSWORD = "pw-root-usage-1"


@pytest.fixture
def with_usage(served_app: ServedApp) -> ServedApp:
    served_app.create_superuser("root", ROOT_PASSWORD)
    served_app.start()
    client = served_app.login()
    turn = new_turn(client, "Hello [sim:markdown tps=0 deltas=10 seed=3]")
    wait_status(client, turn["id"], {"completed"})
    return served_app


def test_the_usage_chart_draws_the_last_30_days(browser, with_usage: ServedApp) -> None:
    app = with_usage
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{app.url}/staff/usage/")
    page.fill("#id_username", "root")
    page.fill("#id_password", ROOT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#usage-chart[data-ready=true] canvas")
    assert errors == []
    width, height = page.eval_on_selector("#usage-chart canvas", "c => [c.width, c.height]")
    assert width > 0 and height > 0
    legend = page.inner_text("#usage-chart")
    assert "Tokens" in legend and "Cost (USD)" in legend
    assert "alice" in page.inner_text("#usage-users")
    page.context.close()
