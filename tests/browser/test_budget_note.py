"""The composer's budget note in Chromium: shown, with what is left and when it resets,
once less than a fifth of a budget is left; hidden otherwise (issue 19, item 3)."""

from __future__ import annotations

import re

import pytest

from tests.browser.served import new_page
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser

SET_USAGE = (
    "from django.contrib.auth import get_user_model as g; "
    "from django.utils import timezone; "
    "from streaming.models import UsageDaily; "
    "UsageDaily.objects.update_or_create(user=g().objects.get(username='alice'), "
    "model='sim-markdown', day=timezone.localdate(), defaults={{'input_tokens': {tokens}}})"
)


def _note(page) -> str:
    page.wait_for_selector("#composer-budget[data-loaded=true]", state="attached")
    note = page.locator("#composer-budget")
    return note.inner_text() if note.is_visible() else ""


def test_the_composer_shows_the_budget_left_once_under_a_fifth(
    browser, served_app: ServedApp
) -> None:
    served_app.env.update(
        BUDGET_TOKENS_PER_DAY="100000",
        BUDGET_USD_PER_MONTH="1",
        MODEL_PRICES='{"sim-markdown": {"input": 10, "output": 10}}',
    )
    served_app.manage("shell", "-c", SET_USAGE.format(tokens=85000))
    page = new_page(browser, served_app.start())
    text = _note(page)
    tokens, money = text.split(" · ")
    assert re.fullmatch(r"15,000 of 100,000 tokens left today \(resets .+\)", tokens), tokens
    assert re.fullmatch(r"\$0\.15 of \$1\.00 left this month \(resets .+\)", money), money

    served_app.manage("shell", "-c", SET_USAGE.format(tokens=50000))  # half left: no note
    page.reload()
    assert _note(page) == ""

    served_app.manage("shell", "-c", SET_USAGE.format(tokens=100000))  # used up
    page.reload()
    assert _note(page).startswith("0 of 100,000 tokens left today")
    assert page.errors == []
    page.context.close()
