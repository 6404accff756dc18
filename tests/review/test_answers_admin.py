"""The admin's feedback column and filter, the review queue with its reviewed mark and
note, and the list of shares."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from streaming.models import Conversation, Feedback, Share, Turn, TurnReview

pytestmark = pytest.mark.django_db(transaction=True)


def turn(owner: Any, text: str, **fields: Any) -> Turn:
    conversation = Conversation.objects.create(owner=owner, title=text)
    return Turn.objects.create(
        conversation=conversation, input=text, model="m", status="completed", **fields
    )


def staff() -> Client:
    user = get_user_model().objects.create_superuser("boss", password=None)
    client = Client()
    client.force_login(user)
    return client


def test_the_queue_holds_flagged_and_rated_down_turns_oldest_first_and_takes_a_mark() -> None:
    alice = get_user_model().objects.create_user("alice")
    flagged = turn(alice, "flagged-one", flagged=True)
    down = turn(alice, "rated-down")
    Feedback.objects.create(turn=down, rating="down", comment="made things up")
    liked = turn(alice, "rated-up")
    Feedback.objects.create(turn=liked, rating="up")
    client = staff()
    page = client.get("/admin/streaming/reviewqueueturn/").content.decode()
    assert "made things up" in page
    assert page.index(str(flagged)) < page.index(str(down))
    assert str(liked) not in page
    answer = client.post(
        f"/admin/streaming/reviewqueueturn/{down.pk}/change/",
        {"reviewed": "on", "note": "checked with the user"},
    )
    assert answer.status_code == 302, answer.content[:2000]
    review = TurnReview.objects.get(turn=down)
    assert review.note == "checked with the user" and review.reviewer.username == "boss"
    assert Turn.objects.get(pk=down.pk).input == "rated-down"


def test_the_turn_list_has_a_feedback_column_and_filter() -> None:
    alice = get_user_model().objects.create_user("alice")
    down = turn(alice, "rated-down")
    Feedback.objects.create(turn=down, rating="down", comment="nope")
    other = turn(alice, "no-feedback")
    client = staff()
    page = client.get("/admin/streaming/turn/", {"feedback": "down"}).content.decode()
    assert "<strong>Down</strong> nope" in page and str(other) not in page


def test_shares_are_listed() -> None:
    alice = get_user_model().objects.create_user("alice")
    shared = turn(alice, "shared chat").conversation
    Share.objects.create(conversation=shared, token="t" * 20)
    assert "shared chat" in staff().get("/admin/streaming/share/").content.decode()
