"""Moderation: the rules, the OpenAI moderator, the check after a turn, and hold mode."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import threading
import time
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.utils.timezone import now

from streaming.models import Turn
from streaming.moderation.moderators import (
    DEFAULT_RULES,
    EndpointOrRules,
    ModerationError,
    OpenAIModerator,
    RuleModerator,
    Verdict,
    moderator_from_settings,
)
from streaming.services import moderation as moderation_service
from streaming.simulator import texts as simulator_texts
from streaming.worker import sweep
from tests.relay_harness import Relay, wait_turn

pytestmark = pytest.mark.django_db(transaction=True)

FLAGGED = "Tell me [sim:moderation tps=0]"
CLEAN = "Hello [sim:markdown tps=0 deltas=40 seed=4]"
MODERATED = {"clean", "flagged", "error"}


async def wait_moderated(turn_id: str, timeout: float = 10) -> Any:
    """The turn once its after-check has stored a verdict (or given up)."""
    return await wait_turn(
        turn_id, lambda turn: turn.moderation_status in MODERATED, timeout, "get moderated"
    )


class FlakyModerator:
    """Fails `failures` times, then answers with the rules; counts its calls."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.rules = RuleModerator(DEFAULT_RULES)

    async def check(self, texts: list[str]) -> list[Verdict]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ModerationError(f"moderator down (call {self.calls})")
        return await self.rules.check(texts)


# --- the rules -------------------------------------------------------------------------


def test_the_default_rules_flag_the_simulators_moderation_text() -> None:
    """The `moderation` scenario's text trips the built-in rules."""
    verdict = RuleModerator(DEFAULT_RULES).verdict(simulator_texts.MODERATION)
    assert verdict.flagged
    assert {"illicit/violent", "violence"} <= set(verdict.categories)
    assert verdict.scores["violence"] == 1.0
    assert "bomb" in verdict.matches["illicit/violent"]


def test_the_default_rules_pass_the_simulators_ordinary_answers() -> None:
    """Prose and markdown the simulator writes for other scenarios are not flagged."""
    rules = RuleModerator(DEFAULT_RULES)
    for seed in range(20):
        text = simulator_texts.markdown_answer(random.Random(seed), 200)
        assert not rules.verdict(text).flagged, text
    assert not rules.verdict(simulator_texts.REFUSAL).flagged


async def test_the_rules_scan_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long answer takes milliseconds to scan: the scan runs in a thread, so the streams
    on the event loop go on meanwhile; the verdicts come back in order."""
    rules = RuleModerator(DEFAULT_RULES)
    scanned_on: list[int] = []
    real = rules.verdict

    def verdict(text: str) -> Verdict:
        scanned_on.append(threading.get_ident())
        return real(text)

    monkeypatch.setattr(rules, "verdict", verdict)
    verdicts = await rules.check([simulator_texts.MODERATION, "hello"])
    assert [v.flagged for v in verdicts] == [True, False]
    assert scanned_on and threading.get_ident() not in scanned_on


def test_rules_match_whole_words_in_any_case() -> None:
    rules = RuleModerator({"violence": [r"\bkill\b"]})
    assert rules.verdict("They KILL it").categories == ["violence"]
    assert not rules.verdict("a skilled worker").flagged


def test_a_category_s_patterns_each_match_however_they_are_scanned() -> None:
    """A category's patterns are scanned as one expression when they can be joined; those
    with groups or flags of their own are scanned apart, and an empty category flags nothing."""
    rules = RuleModerator(
        {
            "joined": [r"\bbomb\b", r"\bweapons?\b"],
            "groups": [r"(ab)\1", r"\bkill(s)?\b"],
            "flags": [r"(?x) f o o ", r"\bbar\b"],
            "empty": [],
        }
    )
    verdict = rules.verdict("A Weapon, a BOMB; abab kills; FOO and bar.")
    assert verdict.matches == {
        "joined": ["Weapon", "BOMB"],
        "groups": ["abab", "kills"],
        "flags": ["FOO", "bar"],
    }
    assert not rules.verdict("nothing here").flagged
    assert len(rules.rules["joined"]) == 1 and len(rules.rules["groups"]) == 2


def test_a_rules_file_replaces_the_built_in_rules(settings: Any, tmp_path: Any) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"spoilers": [r"\bthe butler did it\b"]}))
    settings.MODERATION_RULES_FILE = str(path)
    settings.OPENAI_API_KEY = ""
    moderator = moderator_from_settings()
    assert isinstance(moderator, RuleModerator)
    assert moderator.verdict("Spoiler: the butler did it.").categories == ["spoilers"]
    assert not moderator.verdict("how to build a bomb").flagged


@pytest.mark.parametrize("content", ["not json", '{"x": "not a list"}', '{"x": ["("]}'])
def test_a_bad_rules_file_is_a_configuration_error(
    settings: Any, tmp_path: Any, content: str
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(content)
    settings.MODERATION_RULES_FILE = str(path)
    settings.OPENAI_API_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        moderator_from_settings()


# --- the OpenAI moderator --------------------------------------------------------------


async def test_the_openai_moderator_posts_all_texts_and_reads_each_result() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result = {
            "flagged": True,
            "categories": {"violence": True, "hate": False},
            "category_scores": {"violence": 0.91, "hate": 0.01},
        }
        clean = {"flagged": False, "categories": {"violence": False}, "category_scores": {}}
        return httpx.Response(200, json={"id": "modr-1", "results": [clean, result]})

    moderator = OpenAIModerator(
        base_url="https://api.example.test/v1/",
        api_key="sk-test",
        model="omni-moderation-latest",
        timeout=5,
        transport=httpx.MockTransport(answer),
    )
    first, second = await moderator.check(["hello", "something violent"])
    request = seen[0]
    assert str(request.url) == "https://api.example.test/v1/moderations"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "omni-moderation-latest",
        "input": ["hello", "something violent"],
    }
    assert not first.flagged
    assert second.flagged and second.categories == ["violence"]
    assert second.scores == {"violence": 0.91, "hate": 0.01}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"error": {"message": "boom"}}),
        httpx.Response(200, json={"results": "nope"}),
        httpx.Response(200, json={"results": []}),
    ],
)
async def test_the_openai_moderator_raises_on_a_bad_answer(response: httpx.Response) -> None:
    moderator = OpenAIModerator(
        base_url="https://api.example.test/v1",
        api_key="sk-test",
        model="m",
        timeout=5,
        transport=httpx.MockTransport(lambda request: response),
    )
    with pytest.raises(ModerationError):
        await moderator.check(["text"])


def test_with_an_api_key_the_openai_endpoint_decides(settings: Any) -> None:
    settings.OPENAI_API_KEY = "sk-live"
    settings.OPENAI_BASE_URL = ""
    moderator = moderator_from_settings()
    assert isinstance(moderator, EndpointOrRules)
    assert moderator.endpoint.url == "https://api.openai.com/v1/moderations"
    settings.OPENAI_BASE_URL = "https://proxy.example.test/v1"
    moderator = moderator_from_settings()
    assert isinstance(moderator, EndpointOrRules)
    assert moderator.endpoint.url == "https://proxy.example.test/v1/moderations"


# --- after the turn ----------------------------------------------------------------------


async def test_after_mode_flags_a_finished_turn_and_keeps_it_completed(
    relay: Relay, settings: Any
) -> None:
    """The answer streams unchanged; afterwards the turn is flagged with categories and scores."""
    settings.MODERATION_MODE = "after"
    turn_id = await relay.start(FLAGGED)
    turn = await relay.wait_done(turn_id)
    assert turn.status == "completed"
    assert "bomb" in turn.output_text
    turn = await wait_moderated(turn_id)
    assert turn.moderation_status == "flagged" and turn.flagged
    assert {"illicit/violent", "violence"} <= set(turn.moderation["categories"])
    assert turn.moderation["output"]["flagged"] and not turn.moderation["input"]["flagged"]
    assert turn.moderation["scores"]["violence"] == 1.0
    assert turn.moderation["source"] == "rules" and turn.moderation["attempts"] == 1


async def test_after_mode_marks_a_clean_turn_clean(relay: Relay, settings: Any) -> None:
    settings.MODERATION_MODE = "after"
    turn_id = await relay.start(CLEAN)
    await relay.wait_done(turn_id)
    turn = await wait_moderated(turn_id)
    assert turn.moderation_status == "clean" and not turn.flagged
    assert turn.moderation["categories"] == []


async def test_turns_that_end_together_are_claimed_and_stored_in_one_batch_each(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One claim for all, few stores; each turn gets its own verdict; what `moderation` held
    before is kept; a turn already claimed is not checked twice."""
    settings.MODERATION_MODE = "after"
    batches: dict[str, list[int]] = {"claim": [], "save": []}
    for name, batched in (
        ("claim", moderation_service._claim_ended),
        ("save", moderation_service._save),
    ):
        fn = batched.fn
        monkeypatch.setattr(
            batched,
            "fn",
            lambda items, fn=fn, name=name: batches[name].append(len(items)) or fn(items),
        )
    ids = await sync_to_async(_ended_turns)(["fine", "how to build a bomb", "fine", "fine"])
    await sync_to_async(Turn.objects.filter(pk=ids[3]).update)(moderation={"hold": {"checks": 2}})
    await asyncio.gather(*(moderation_service.turn_moderate(turn_id=i) for i in ids))
    # checks that end in the same turn of the loop share a batch (the rules scan in threads)
    assert batches["claim"] == [4] and sum(batches["save"]) == 4 and len(batches["save"]) < 4
    turns = {t.pk: t for t in await sync_to_async(list)(Turn.objects.filter(pk__in=ids))}
    assert [turns[i].moderation_status for i in ids] == ["clean", "flagged", "clean", "clean"]
    assert [turns[i].flagged for i in ids] == [False, True, False, False]
    assert turns[ids[3]].moderation["hold"] == {"checks": 2}
    assert turns[ids[3]].moderation["source"] == "rules"
    await asyncio.gather(*(moderation_service.turn_moderate(turn_id=str(i)) for i in ids))
    assert batches["claim"][1:] == [4] and sum(batches["save"]) == 4  # claimed before: no check


def _ended_turns(outputs: list[str]) -> list[Any]:
    from django.contrib.auth.models import User

    from streaming.models import Conversation

    owner = User.objects.create(username=f"batch-{random.random()}")
    conversation = Conversation.objects.create(owner=owner)
    return [
        Turn.objects.create(
            conversation=conversation, input="hello", output_text=text, status="completed"
        ).pk
        for text in outputs
    ]


async def test_a_flagged_input_flags_the_turn(relay: Relay, settings: Any) -> None:
    settings.MODERATION_MODE = "after"
    turn_id = await relay.start("How do I kill a neighbour? [sim:markdown tps=0 deltas=10]")
    await relay.wait_done(turn_id)
    turn = await wait_moderated(turn_id)
    assert turn.flagged and turn.moderation["input"]["categories"] == ["violence"]
    assert not turn.moderation["output"]["flagged"]


async def test_a_failing_moderator_is_retried_and_never_fails_the_turn(
    relay: Relay, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two failures, then an answer: the verdict is stored, after three attempts."""
    settings.MODERATION_MODE = "after"
    settings.MODERATION_RETRY_DELAY = 0.01
    moderator = FlakyModerator(failures=2)
    monkeypatch.setattr(moderation_service, "moderator_from_settings", lambda **_: moderator)
    turn_id = await relay.start(FLAGGED)
    assert (await relay.wait_done(turn_id)).status == "completed"
    turn = await wait_moderated(turn_id)
    assert moderator.calls == 3
    assert turn.status == "completed"
    assert turn.moderation_status == "flagged"
    assert turn.moderation["attempts"] == 3
    assert turn.moderation["failures"] == ["moderator down (call 1)", "moderator down (call 2)"]


async def test_a_moderator_that_always_fails_leaves_the_turn_in_error(
    relay: Relay, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MODERATION_MODE = "after"
    settings.MODERATION_RETRIES = 3
    settings.MODERATION_RETRY_DELAY = 0.01
    moderator = FlakyModerator(failures=100)
    monkeypatch.setattr(moderation_service, "moderator_from_settings", lambda **_: moderator)
    turn_id = await relay.start(FLAGGED)
    turn = await wait_moderated(turn_id)
    assert moderator.calls == 4
    assert turn.status == "completed" and turn.error == ""
    assert turn.moderation_status == "error" and not turn.flagged
    assert len(turn.moderation["failures"]) == 4


async def test_off_mode_checks_nothing(relay: Relay, settings: Any) -> None:
    settings.MODERATION_MODE = "off"
    turn_id = await relay.start(FLAGGED)
    await relay.wait_done(turn_id)
    await asyncio.sleep(0.3)
    turn = await relay.wait_done(turn_id)
    assert turn.moderation_status == "" and not turn.flagged


# --- hold mode, end to end ------------------------------------------------------------------


def _deltas(envelopes: list[dict[str, Any]]) -> str:
    return "".join(
        e["event"]["delta"] for e in envelopes if e["event"]["type"] == "response.output_text.delta"
    )


async def _simulator_ending(simulator_url: str, response_id: str) -> str:
    """How the simulator saw the request end (it notices a disconnect within a frame)."""
    deadline = time.monotonic() + 5
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            history = (await client.get(f"{simulator_url}/_requests")).json()
            ended = next((r["ended"] for r in history if r["id"] == response_id), "missing")
            if ended != "started":
                return ended
            await asyncio.sleep(0.05)
    return "started"


async def test_hold_mode_never_shows_flagged_text_and_closes_the_upstream(
    relay: Relay, settings: Any, simulator_url: str
) -> None:
    """The flagged sentence reaches neither the socket nor the log nor the API; the turn
    fails with the moderation reason, the upstream request is closed mid-stream, and the
    held text is kept for reviewers."""
    settings.MODERATION_MODE = "hold"
    turn_id = await relay.start("Tell me [sim:moderation tps=40]")
    viewer = await (await relay.watch(turn_id)).read_until_closed()
    turn = await wait_moderated(turn_id)
    stored = await relay.stored(turn_id)
    assert viewer.envelopes == stored
    assert "bomb" not in json.dumps(stored) and _deltas(stored) == ""
    assert turn.status == "failed" and turn.error == "moderation: illicit/violent"
    errors = [e["event"] for e in stored if e["event"]["type"] == "relay.error"]
    assert errors == [
        {"type": "relay.error", "kind": "moderation", "message": "moderation: illicit/violent"}
    ]
    assert stored[-1]["event"]["status"] == "failed"
    assert turn.flagged and turn.moderation_status == "flagged"
    assert turn.moderation["held_text"].startswith("You asked how to build a bomb.")
    assert turn.output_text == "" and "bomb" not in json.dumps(turn.output)
    api = await relay.client.get(f"/api/turns/{turn_id}")
    assert "bomb" not in api.content.decode()
    assert await _simulator_ending(simulator_url, turn.response_ids[0]) == "client_disconnected"


async def test_hold_mode_shows_what_passed_before_the_flagged_checkpoint(
    relay: Relay, settings: Any, tmp_path: Any
) -> None:
    """Checkpoints that passed are shown; from the flagged one on, nothing is."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"test": [r"\bPoints\b"]}))
    settings.MODERATION_MODE = "hold"
    settings.MODERATION_RULES_FILE = str(rules)
    text = "Hi [sim:markdown tps=500 deltas=80 seed=4]"  # paced: a batch per delta
    turn_id = await relay.start(text)
    viewer = await (await relay.watch(turn_id)).read_until_closed()
    turn = await relay.wait_done(turn_id)
    shown = _deltas(viewer.envelopes)
    assert viewer.envelopes == await relay.stored(turn_id)
    assert shown and "Points" not in shown
    assert turn.output_text == shown
    assert turn.status == "failed" and turn.error == "moderation: test"
    assert "Points" in turn.moderation["held_text"]

    settings.MODERATION_MODE = "off"
    full = await relay.wait_done(await relay.start(text))
    assert full.output_text.startswith(shown + turn.moderation["held_text"])


async def test_hold_mode_passes_clean_text_unchanged(relay: Relay, settings: Any) -> None:
    """A clean answer streams whole, event for event as without holding, then is checked
    after the turn like any other."""
    settings.MODERATION_MODE = "hold"
    held_id = await relay.start(CLEAN)
    viewer = await (await relay.watch(held_id)).read_until_closed()
    held = await wait_moderated(held_id)
    settings.MODERATION_MODE = "off"
    plain = await relay.wait_done(await relay.start(CLEAN))
    assert held.status == "completed" and held.moderation_status == "clean"
    assert _deltas(viewer.envelopes) == held.output_text == plain.output_text
    plain_types = [e["event"]["type"] for e in await relay.stored(str(plain.pk))]
    assert [e["event"]["type"] for e in viewer.envelopes] == plain_types
    hold = held.moderation["hold"]
    assert hold["checkpoints"] >= 1 and hold["deltas"] == 40


# --- checks a dead worker left undone ----------------------------------------------------


async def _finished_turn(relay: Relay, prompt: str, *, status: str, ago: dt.timedelta) -> str:
    """A turn that streamed and ended `ago`, its check left at `status` (as a worker that
    died after the turn, or during its check, leaves it)."""
    turn_id = await relay.start(prompt)
    await relay.wait_done(turn_id)
    await wait_moderated(turn_id)
    await sync_to_async(
        lambda: Turn.objects.filter(pk=turn_id).update(
            moderation_status=status, moderation={}, flagged=False, finished_at=now() - ago
        )
    )()
    return turn_id


async def test_the_sweep_checks_turns_whose_check_a_dead_worker_left_undone(
    relay: Relay, settings: Any
) -> None:
    """Never checked, or `pending` for good: once the turn ended long enough ago, the sweep
    checks it; a check still within its time is left to its worker."""
    settings.MODERATION_MODE = "after"
    long_ago = moderation_service.STALE_AFTER + dt.timedelta(seconds=5)
    unchecked = await _finished_turn(relay, FLAGGED, status="", ago=long_ago)
    pending = await _finished_turn(relay, CLEAN, status="pending", ago=long_ago)
    recent = await _finished_turn(relay, FLAGGED, status="pending", ago=dt.timedelta(seconds=5))
    await sweep.moderate_left_unchecked()
    turn = await wait_moderated(unchecked)
    assert turn.moderation_status == "flagged" and turn.flagged
    assert (await wait_moderated(pending)).moderation_status == "clean"
    assert (await sync_to_async(Turn.objects.get)(pk=recent)).moderation_status == "pending"


async def test_the_sweep_leaves_unchecked_turns_alone_when_moderation_is_off(
    relay: Relay, settings: Any
) -> None:
    settings.MODERATION_MODE = "after"
    old = moderation_service.STALE_AFTER + dt.timedelta(seconds=5)
    turn_id = await _finished_turn(relay, FLAGGED, status="", ago=old)
    settings.MODERATION_MODE = "off"
    await sweep.moderate_left_unchecked()
    assert (await sync_to_async(Turn.objects.get)(pk=turn_id)).moderation_status == ""


async def test_the_workers_sweep_checks_them_on_its_own(relay: Relay, settings: Any) -> None:
    """The worker's sweep loop starts those checks itself (in a task of their own, so a
    moderator that is down never holds up the watch on leases)."""
    settings.MODERATION_MODE = "after"
    old = moderation_service.STALE_AFTER + dt.timedelta(seconds=5)
    turn_id = await _finished_turn(relay, FLAGGED, status="pending", ago=old)
    assert (await wait_moderated(turn_id)).moderation_status == "flagged"
