"""`/staff/audit/`: admin actions and transcript views on one page, by user and date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from streaming.models import TranscriptView

pytestmark = pytest.mark.django_db


def test_the_audit_page_lists_both_records_filtered_by_user_and_date(
    admin_client, admin_user, django_user_model
) -> None:
    reviewer = django_user_model.objects.create_user("rita", is_staff=True)
    LogEntry.objects.log_actions(
        user_id=admin_user.pk,
        queryset=[reviewer],
        action_flag=CHANGE,
        change_message="made a reviewer",
        single_object=True,
    )
    TranscriptView.objects.create(
        viewer=reviewer, viewer_name="rita", turn_ref="abc123", kind="page"
    )
    rows = admin_client.get("/staff/audit/").context["rows"]
    assert {row["user"] for row in rows} == {"admin", "rita"}
    assert any("opened transcript abc123" in row["what"] for row in rows)
    rita = admin_client.get("/staff/audit/?user=rita").context["rows"]
    assert [row["user"] for row in rita] == ["rita"]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert admin_client.get(f"/staff/audit/?since={tomorrow}").context["rows"] == []
    assert ContentType.objects.exists()


def test_only_superusers_see_the_audit_page(client, django_user_model) -> None:
    assert client.get("/staff/audit/").status_code == 302
    client.force_login(django_user_model.objects.create_user("sam", is_staff=True))
    assert client.get("/staff/audit/").status_code == 403
