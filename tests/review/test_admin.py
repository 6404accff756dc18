"""Transcript review in the admin: lists, filters, search, the turn and replay pages, the
log endpoint, exports, roles and the audit trail, on turns the relay really streamed."""

from __future__ import annotations

import asyncio
import csv
import importlib
import io
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import AsyncClient

from streaming.models import ToolEntry, TranscriptView, Turn
from streaming.protocol.statuses import page_constants
from tests.relay_harness import Relay
from tests.web.test_pages import page_constants_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def reviewers_group(transactional_db: Any) -> None:
    """The Reviewers group as migration 0003 makes it. Transactional tests flush the database
    between tests, and restoring it by `serialized_rollback` fails once an earlier test's flush
    has recreated the content types; so the group is made again here."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission

    migration = importlib.import_module("streaming.migrations.0003_reviewers_group")
    create_permissions(apps.get_app_config("streaming"), verbosity=0)
    group, _ = Group.objects.get_or_create(name=migration.GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="streaming", codename__in=migration.VIEW)
    )


TURNS = "/admin/streaming/turn/"


@dataclass
class Transcripts:
    relay: Relay
    plain: str
    tool: str
    flagged: str

    @property
    def all(self) -> list[str]:
        return [self.plain, self.tool, self.flagged]


async def _moderated(turn_id: str) -> Turn:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        turn = await Turn.objects.aget(pk=turn_id)
        if turn.moderation_status in ("clean", "flagged", "error"):
            return turn
        await asyncio.sleep(0.05)
    raise AssertionError("not moderated")


@pytest_asyncio.fixture
async def transcripts(relay: Relay, settings: Any) -> Transcripts:
    """Three finished, moderated turns by alice: markdown, a tool round trip, a flagged one."""
    settings.MODERATION_MODE = "after"
    await ToolEntry.objects.acreate(  # the function the tool round trip calls
        name="get_weather",
        label="Weather",
        default=True,
        function="streaming.simulator.tools:get_weather",
    )
    ids = [
        await relay.start("Plain answer please [sim:markdown tps=0 deltas=30 seed=7]"),
        await relay.start("Weather in Oslo? [sim:function-call tps=0]"),
        await relay.start("Something bad [sim:moderation tps=0]"),
    ]
    for turn_id in ids:
        await _moderated(turn_id)
    return Transcripts(relay, *ids)


async def _user(name: str, *, staff: bool = False, superuser: bool = False, group: str = "") -> Any:
    def make() -> Any:
        users = get_user_model().objects
        create = users.create_superuser if superuser else users.create_user
        user = create(name, password=f"pw-{name}-1", **({} if superuser else {"is_staff": staff}))
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return await sync_to_async(make)()


async def _client(user: Any) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


@pytest_asyncio.fixture
async def admin_client() -> AsyncClient:
    return await _client(await _user("root", superuser=True))


@pytest_asyncio.fixture
async def reviewer() -> AsyncClient:
    return await _client(await _user("rita", staff=True, group="Reviewers"))


async def _body(response: Any) -> bytes:
    if response.streaming:
        return b"".join([chunk async for chunk in response.streaming_content])
    return response.content


async def _views() -> list[tuple[str, str, str]]:
    rows = TranscriptView.objects.order_by("viewed_at").values_list(
        "viewer_name", "turn_ref", "kind"
    )
    return [row async for row in rows]


# --- lists, filters, search --------------------------------------------------------------


async def test_the_turn_list_shows_who_what_and_how_it_went(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    response = await admin_client.get(TURNS)
    assert response.status_code == 200
    html = response.content.decode()
    for header in ("user", "model", "status", "duration", "TTFT", "tokens in", "tokens out"):
        assert f">{header}<" in html or f">{header.capitalize()}<" in html, header
    assert "alice" in html and "sim-markdown" in html
    assert html.count("⚑") == 1 and "illicit/violent" in html
    rows = {str(t.pk): t for t in response.context["cl"].result_list}
    assert set(rows) == set(transcripts.all)


async def _listed(client: AsyncClient, query: str) -> set[str]:
    response = await client.get(TURNS + query)
    assert response.status_code == 200, query
    return {str(t.pk) for t in response.context["cl"].result_list}


async def test_the_filters_narrow_the_list(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    t = transcripts
    alice = t.relay.user.pk
    assert await _listed(admin_client, "?flagged__exact=1") == {t.flagged}
    assert await _listed(admin_client, "?moderation_status__exact=clean") == {t.plain, t.tool}
    assert await _listed(admin_client, "?tools=yes") == {t.tool}
    assert await _listed(admin_client, "?tools=no") == {t.plain, t.flagged}
    assert await _listed(admin_client, "?status__exact=completed") == set(t.all)
    assert await _listed(admin_client, "?status__exact=failed") == set()
    assert await _listed(admin_client, "?model=sim-markdown") == set(t.all)
    assert await _listed(admin_client, f"?conversation__owner__id__exact={alice}") == set(t.all)
    assert await _listed(admin_client, "?created_at__gte=2000-01-01T00:00:00%2B00:00") == set(t.all)
    assert await _listed(admin_client, "?created_at__lt=2000-01-01T00:00:00%2B00:00") == set()


async def test_search_finds_turns_by_input_and_output(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    t = transcripts
    assert await _listed(admin_client, "?q=Oslo") == {t.tool}  # the input
    assert await _listed(admin_client, "?q=emergency") == {t.flagged}  # the output
    assert await _listed(admin_client, "?q=nothing-like-this") == set()


async def test_the_conversation_list_and_page_show_their_turns(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    response = await admin_client.get("/admin/streaming/conversation/?q=Oslo")
    assert response.status_code == 200
    (conversation,) = response.context["cl"].result_list
    page = await admin_client.get(f"/admin/streaming/conversation/{conversation.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and "Weather in Oslo?" in html
    assert f"/admin/streaming/turn/{transcripts.tool}/change/" in html
    assert 'name="_save"' not in html


# --- the turn page, the log, replay ----------------------------------------------------------


async def test_the_turn_page_renders_the_transcript_from_the_log(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    """The page loads the review module (a static file, no inline script of ours) with the
    status sets as JSON data, and points it at the log endpoint; it offers Replay, shows the moderation verdict, and saves nothing."""
    turn_id = transcripts.flagged
    response = await admin_client.get(f"{TURNS}{turn_id}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<script type="module" src="/static/review/review.js">' in html
    assert page_constants_of(html) == page_constants()
    assert f'data-log-url="{TURNS}{turn_id}/log.json"' in html
    assert f'href="{TURNS}{turn_id}/replay/"' in html
    assert "⚑ illicit/violent, violence" in html
    assert 'name="_save"' not in html


async def test_the_turn_page_shows_reviewers_what_hold_mode_held_back(
    relay: Relay, settings: Any, reviewer: AsyncClient
) -> None:
    settings.MODERATION_MODE = "hold"
    turn_id = await relay.start("Something bad [sim:moderation tps=0]")
    turn = await relay.wait_done(turn_id)
    assert turn.status == "failed" and "bomb" not in turn.output_text
    html = (await reviewer.get(f"{TURNS}{turn_id}/change/")).content.decode()
    assert "Held back (never shown to the user)" in html
    assert "You asked how to build a bomb." in html
    assert "moderation: illicit/violent" in html


async def test_the_log_endpoint_serves_the_stored_log_as_json(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    turn_id = transcripts.tool
    response = await admin_client.get(f"{TURNS}{turn_id}/log.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    log = json.loads(await _body(response))
    stored = await transcripts.relay.stored(turn_id)
    assert [{"seq": e["seq"], "event": e["event"]} for e in log["events"]] == stored
    assert [e["type"] for e in log["events"]] == [e["event"]["type"] for e in stored]
    assert all(e["size"] > 0 and e["received_ms"] > 0 for e in log["events"])
    assert log["turn"]["input"] == "Weather in Oslo? [sim:function-call tps=0]"
    assert log["turn"]["tool_calls"] == 1


async def test_the_replay_page_loads_the_player(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    turn_id = transcripts.plain
    response = await admin_client.get(f"{TURNS}{turn_id}/replay/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<script type="module" src="/static/review/replay.js">' in html
    assert page_constants_of(html) == page_constants()
    assert f'data-log-url="{TURNS}{turn_id}/log.json"' in html
    for speed in ("1×", "2×", "10×"):
        assert speed in html


async def test_an_unknown_turn_is_a_404(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await admin_client.get(f"{TURNS}{missing}/log.json")).status_code == 404
    assert (await admin_client.get(f"{TURNS}{missing}/replay/")).status_code == 404


# --- export ----------------------------------------------------------------------------------


async def _export(client: AsyncClient, action: str, ids: list[str]) -> Any:
    return await client.post(TURNS, {"action": action, "_selected_action": ids, "index": "0"})


async def test_jsonl_export_has_one_turn_a_line(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    response = await _export(admin_client, "export_jsonl", [transcripts.tool, transcripts.flagged])
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in (await _body(response)).decode().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert set(by_id) == {transcripts.tool, transcripts.flagged}
    tool, flagged = by_id[transcripts.tool], by_id[transcripts.flagged]
    assert tool["input"].startswith("Weather in Oslo?") and tool["tool_calls"] == 1
    assert tool["output"][0]["type"] == "function_call"
    assert tool["usage"]["output_tokens"] > 0 and tool["timings"]["total_ms"] >= 0
    assert tool["status"] == "completed" and tool["user"] == "alice"
    assert flagged["flagged"] and "violence" in flagged["moderation"]["categories"]
    assert "events" not in tool


async def test_jsonl_export_with_events_carries_the_log(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    response = await _export(admin_client, "export_jsonl_with_events", [transcripts.plain])
    (line,) = (await _body(response)).decode().splitlines()
    record = json.loads(line)
    stored = await transcripts.relay.stored(transcripts.plain)
    assert [{"seq": e["seq"], "event": e["event"]} for e in record["events"]] == stored


async def test_csv_export_summarises_the_turns(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    response = await _export(admin_client, "export_csv", transcripts.all)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO((await _body(response)).decode())))
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == set(transcripts.all)
    assert by_id[transcripts.tool]["tool_calls"] == "1"
    assert by_id[transcripts.flagged]["flagged"] == "True"
    assert int(by_id[transcripts.plain]["output_tokens"]) > 0
    assert by_id[transcripts.plain]["user"] == "alice"


async def test_an_export_of_everything_filtered_follows_the_filter(
    transcripts: Transcripts, admin_client: AsyncClient
) -> None:
    """With "select all", a filtered list exports every turn the filter keeps, not only the
    ticked ones."""
    response = await admin_client.post(
        TURNS + "?tools=no",
        {
            "action": "export_jsonl",
            "select_across": "1",
            "index": "0",
            "_selected_action": [transcripts.plain],
        },
    )
    ids = {json.loads(line)["id"] for line in (await _body(response)).decode().splitlines()}
    assert ids == {transcripts.plain, transcripts.flagged}


# --- roles and audit -------------------------------------------------------------------------


async def test_non_staff_never_reach_the_admin(transcripts: Transcripts) -> None:
    """Alice (logged in, not staff) is sent to the admin login from every review page."""
    alice = transcripts.relay.client
    turn_id = transcripts.plain
    for url in (TURNS, f"{TURNS}{turn_id}/change/", f"{TURNS}{turn_id}/log.json"):
        response = await alice.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = await alice.get(f"{TURNS}{turn_id}/replay/")
    assert response.status_code == 302
    assert await _views() == []


async def test_the_reviewers_group_may_only_view(db: Any) -> None:
    group = await Group.objects.aget(name="Reviewers")
    codenames = {p async for p in group.permissions.values_list("codename", flat=True)}
    assert codenames == {"view_conversation", "view_turn", "view_turnevent"}


async def test_a_reviewer_reads_but_cannot_change_or_delete(
    transcripts: Transcripts, reviewer: AsyncClient
) -> None:
    turn_id = transcripts.plain
    listing = await reviewer.get(TURNS)
    assert listing.status_code == 200
    actions = dict(listing.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions and "export_jsonl" in actions
    page = await reviewer.get(f"{TURNS}{turn_id}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (await reviewer.post(f"{TURNS}{turn_id}/change/", {"input": "x"})).status_code == 403
    assert (await reviewer.get(f"{TURNS}{turn_id}/delete/")).status_code == 403
    assert (await reviewer.post(f"{TURNS}{turn_id}/delete/", {"post": "yes"})).status_code == 403
    assert (await reviewer.get(f"{TURNS}add/")).status_code == 403
    assert await Turn.objects.filter(pk=turn_id, input__contains="Plain").aexists()


async def test_staff_outside_the_group_see_no_transcripts(transcripts: Transcripts) -> None:
    client = await _client(await _user("sam", staff=True))
    assert (await client.get(TURNS)).status_code == 403
    assert (await client.get(f"{TURNS}{transcripts.plain}/log.json")).status_code == 403
    assert (await client.get(f"{TURNS}{transcripts.plain}/replay/")).status_code == 403


async def test_opening_a_transcript_is_recorded(
    transcripts: Transcripts, reviewer: AsyncClient, admin_client: AsyncClient
) -> None:
    """The turn page and the replay each write a row; lists and the log endpoint do not."""
    turn_id = transcripts.tool
    await reviewer.get(TURNS)
    await reviewer.get(f"{TURNS}{turn_id}/change/")
    await reviewer.get(f"{TURNS}{turn_id}/log.json")
    await reviewer.get(f"{TURNS}{turn_id}/replay/")
    await admin_client.get(f"{TURNS}{turn_id}/change/")
    assert await _views() == [
        ("rita", turn_id, "page"),
        ("rita", turn_id, "replay"),
        ("root", turn_id, "page"),
    ]


async def test_the_audit_trail_is_for_superusers_only(
    transcripts: Transcripts, reviewer: AsyncClient, admin_client: AsyncClient
) -> None:
    await reviewer.get(f"{TURNS}{transcripts.flagged}/change/")
    assert (await reviewer.get("/admin/streaming/transcriptview/")).status_code == 403
    assert "transcriptview" not in (await reviewer.get("/admin/")).content.decode()
    assert (
        "Audit: opened by"
        not in (await reviewer.get(f"{TURNS}{transcripts.flagged}/change/")).content.decode()
    )

    listing = await admin_client.get("/admin/streaming/transcriptview/")
    assert listing.status_code == 200
    assert [v.viewer_name for v in listing.context["cl"].result_list] == ["rita", "rita"]
    view = listing.context["cl"].result_list[0]
    page = await admin_client.get(f"/admin/streaming/transcriptview/{view.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (
        await admin_client.get(f"/admin/streaming/transcriptview/{view.pk}/delete/")
    ).status_code == 403
    turn_page = await admin_client.get(f"{TURNS}{transcripts.flagged}/change/")
    assert "Audit: opened by" in turn_page.content.decode()
    assert "rita" in turn_page.content.decode()
