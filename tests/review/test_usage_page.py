"""`/staff/usage/`: staff only, per-user and per-model tables, CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from streaming.models import UsageDaily
from streaming.protocol.usage import prices_parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def usage(django_user_model, settings):
    settings.MODEL_PRICES = prices_parse('{"gpt-p": {"input": 1, "output": 2}}')
    alice = django_user_model.objects.create_user("alice", password="pw-alice-1")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12")
    today = timezone.localdate()
    for user, model, tokens in [(alice, "gpt-p", 1_000_000), (bob, "gpt-p", 10), (bob, "free", 7)]:
        UsageDaily.objects.create(
            user=user, model=model, day=today, turns=1, input_tokens=tokens, output_tokens=tokens
        )
    return alice, bob


def test_only_staff_see_the_usage_page(client, usage, admin_client) -> None:
    response = client.get("/staff/usage/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(usage[0])
    assert client.get("/staff/usage/").status_code == 403
    assert client.get("/staff/usage/?format=csv").status_code == 403
    assert admin_client.get("/staff/usage/").status_code == 200


def test_the_page_has_per_user_and_per_model_totals(admin_client, usage) -> None:
    page = admin_client.get("/staff/usage/")
    summary = page.context["summary"]
    users = {row["user__username"]: row for row in summary["users"]}
    assert users["alice"]["total_tokens"] == 2_000_000
    assert users["alice"]["cost_usd"] == pytest.approx(3.0)
    assert users["bob"].get("unpriced") is True
    models = {row["model"]: row for row in summary["models"]}
    assert models["gpt-p"]["turns"] == 2 and models["free"]["total_tokens"] == 14
    assert summary["chart"]["tokens"][-1] == 2_000_034
    assert len(summary["chart"]["days"]) == 30


def test_the_csv_has_a_row_per_user_model_and_day(admin_client, usage) -> None:
    response = admin_client.get("/staff/usage/?format=csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["day", "user", "model"]
    by = {(r[1], r[2]): r for r in rows[1:]}
    assert set(by) == {("alice", "gpt-p"), ("bob", "gpt-p"), ("bob", "free")}
    assert by[("alice", "gpt-p")][-1] == "3.000000"
    assert by[("bob", "free")][-1] == ""
