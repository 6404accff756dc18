"""The HTTP API as design.md describes it: JSON in and out, session login, CSRF on writes,
each user confined to their own conversations."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from streaming.models import Conversation, Turn
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


QUICK = "Hello [sim:markdown tps=0 deltas=20 seed=1]"
TURN_KEYS = {"id", "status", "input", "output_text", "output", "usage", "timings", "error"}


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name)  # no password: no slow hashing


def logged_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post_json(client: Client, path: str, data: Any, **extra: Any) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json", **extra)


def a_finished_turn(owner: Any) -> Turn:
    conversation = Conversation.objects.create(owner=owner, title="mine")
    return Turn.objects.create(
        conversation=conversation, input="hi", model="sim-markdown", status="completed"
    )


def test_logged_out_requests_get_401_json() -> None:
    """No login redirect for the API: a 401 with a JSON error on every endpoint."""
    turn = a_finished_turn(make_user("alice"))
    client = Client()
    calls = [
        ("get", "/api/conversations"),
        ("post", "/api/conversations"),
        ("get", f"/api/conversations/{turn.conversation_id}"),
        ("patch", f"/api/conversations/{turn.conversation_id}"),
        ("delete", f"/api/conversations/{turn.conversation_id}"),
        ("post", f"/api/conversations/{turn.conversation_id}/turns"),
        ("get", f"/api/turns/{turn.pk}"),
        ("post", f"/api/turns/{turn.pk}/cancel"),
    ]
    for method, path in calls:
        response = getattr(client, method)(path, content_type="application/json")
        assert response.status_code == 401, (method, path)
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"], (method, path)
    assert Turn.objects.get(pk=turn.pk).status == "completed"
    assert Conversation.objects.count() == 1


def test_a_conversation_is_created_listed_read_renamed_and_deleted() -> None:
    """The conversation lifecycle through the API, each step visible in the next."""
    client = logged_in(make_user("alice"))
    created = post_json(client, "/api/conversations", {})
    assert created.status_code == 201
    conversation_id = created.json()["id"]

    listed = client.get("/api/conversations").json()["results"]
    assert [c["id"] for c in listed] == [conversation_id]

    one = client.get(f"/api/conversations/{conversation_id}")
    assert one.status_code == 200
    assert one.json()["id"] == conversation_id and one.json()["turns"] == []

    renamed = client.patch(
        f"/api/conversations/{conversation_id}",
        json.dumps({"title": "Plans"}),
        content_type="application/json",
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Plans"
    assert client.get(f"/api/conversations/{conversation_id}").json()["title"] == "Plans"

    deleted = client.delete(f"/api/conversations/{conversation_id}")
    assert deleted.status_code == 204
    assert client.get("/api/conversations").json()["results"] == []
    assert client.get(f"/api/conversations/{conversation_id}").status_code == 404


def test_the_list_holds_only_the_users_own_conversations() -> None:
    """Another user's conversations are not listed."""
    alice, bob = make_user("alice"), make_user("bob")
    mine = a_finished_turn(alice).conversation_id
    a_finished_turn(bob)
    listed = logged_in(alice).get("/api/conversations").json()["results"]
    assert [c["id"] for c in listed] == [str(mine)]


def test_a_rename_needs_a_title() -> None:
    """PATCH without a usable title is a 400 and leaves the title alone."""
    alice = make_user("alice")
    turn = a_finished_turn(alice)
    client = logged_in(alice)
    for body in ({}, {"title": "  "}, {"title": 5}):
        response = client.patch(
            f"/api/conversations/{turn.conversation_id}",
            json.dumps(body),
            content_type="application/json",
        )
        assert response.status_code == 400, body
        assert response.json()["error"]
    assert Conversation.objects.get(pk=turn.conversation_id).title == "mine"


async def test_posting_a_turn_answers_202_with_its_id_and_socket(relay: Relay) -> None:
    """POST turns → 202 `{id, ws}`; the turn then runs and reads back through the API."""
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, QUICK)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "ws"}
    assert body["ws"] == f"/ws/turns/{body['id']}/"
    await relay.wait_done(body["id"])
    turn = (await relay.client.get(f"/api/turns/{body['id']}")).json()
    assert turn["status"] == "completed"
    assert turn["input"] == QUICK
    listed = (await relay.client.get(f"/api/conversations/{conversation}")).json()["turns"]
    assert [t["id"] for t in listed] == [body["id"]]


async def test_a_turn_reads_back_with_the_documented_keys(relay: Relay) -> None:
    """GET /api/turns/<id> has every key design.md lists, filled in once it finished."""
    turn_id = await relay.start(QUICK)
    stored = await relay.wait_done(turn_id)
    body = (await relay.client.get(f"/api/turns/{turn_id}")).json()
    assert set(body) >= TURN_KEYS
    assert body["id"] == turn_id
    assert body["output_text"] == stored.output_text != ""
    assert body["output"] and body["usage"]["output_tokens"] > 0
    assert body["timings"]["total_ms"] is not None
    assert body["error"] in (None, "")


async def test_a_model_may_be_chosen_per_turn(relay: Relay) -> None:
    """`model` in the body is the turn's model."""
    conversation = await relay.conversation()
    response = await relay.post_turn(conversation, QUICK, model="sim-reasoning")
    assert response.status_code == 202
    turn = await relay.wait_done(response.json()["id"])
    assert turn.model == "sim-reasoning"


BAD_TURNS = {
    "empty input": {"input": ""},
    "whitespace-only input": {"input": " \n\t "},
    "no input": {},
    "input too long": {"input": "x" * 11},
    "input not a string": {"input": 5},
    "model not a string": {"input": "hi", "model": 5},
    "a JSON list": ["hi"],
}


@pytest.mark.parametrize("body", list(BAD_TURNS.values()), ids=list(BAD_TURNS))
def test_a_bad_turn_is_a_400_with_a_message(settings: Any, body: Any) -> None:
    """Each malformed request is refused with a JSON message and no turn is created."""
    settings.CHAT_MAX_INPUT_CHARS = 10
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    response = post_json(logged_in(alice), f"/api/conversations/{conversation.pk}/turns", body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert not Turn.objects.exists()


def test_a_body_that_is_not_json_is_a_400() -> None:
    """Garbage instead of JSON is a 400 with a message, not a server error."""
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    response = logged_in(alice).post(
        f"/api/conversations/{conversation.pk}/turns",
        "input=hi",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert not Turn.objects.exists()


def test_input_at_the_limit_is_accepted(settings: Any) -> None:
    """The limit is inclusive: exactly CHAT_MAX_INPUT_CHARS characters pass."""
    settings.CHAT_MAX_INPUT_CHARS = 10
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    path = f"/api/conversations/{conversation.pk}/turns"
    response = post_json(logged_in(alice), path, {"input": "x" * 10})
    assert response.status_code == 202
    assert Turn.objects.get().input == "x" * 10


def test_another_user_gets_404_everywhere() -> None:
    """Bob cannot see, change, post into or cancel Alice's things, nor learn they exist."""
    alice, bob = make_user("alice"), make_user("bob")
    turn = a_finished_turn(alice)
    Turn.objects.filter(pk=turn.pk).update(status="streaming")
    client = logged_in(bob)
    conversation = f"/api/conversations/{turn.conversation_id}"
    calls = [
        ("get", conversation, None),
        ("patch", conversation, {"title": "mine now"}),
        ("delete", conversation, None),
        ("post", f"{conversation}/turns", {"input": "hi"}),
        ("get", f"/api/turns/{turn.pk}", None),
        ("post", f"/api/turns/{turn.pk}/cancel", None),
    ]
    for method, path, body in calls:
        data = json.dumps(body) if body is not None else ""
        response = getattr(client, method)(path, data, content_type="application/json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]
    turn.refresh_from_db()
    assert turn.status == "streaming" and not turn.cancel_requested
    assert turn.conversation.title == "mine"
    assert Turn.objects.count() == 1


def test_an_unknown_id_is_a_404() -> None:
    """Ids that match nothing are 404 JSON, like another user's."""
    client = logged_in(make_user("alice"))
    missing = "00000000-0000-0000-0000-000000000000"
    for path in (f"/api/conversations/{missing}", f"/api/turns/{missing}"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]


def test_writes_need_the_csrf_token() -> None:
    """A logged-in POST without the token is refused; with the cookie's value in
    X-CSRFToken it is accepted."""
    client = logged_in(make_user("alice"), enforce_csrf_checks=True)
    refused = post_json(client, "/api/conversations", {})
    assert refused.status_code == 403
    assert not Conversation.objects.exists()

    assert client.get("/").status_code == 200
    token = client.cookies["csrftoken"].value
    accepted = post_json(client, "/api/conversations", {}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_changes_without_the_csrf_token_are_refused(method: str) -> None:
    """PATCH and DELETE are writes too."""
    alice = make_user("alice")
    turn = a_finished_turn(alice)
    client = logged_in(alice, enforce_csrf_checks=True)
    path = f"/api/conversations/{turn.conversation_id}"
    response = getattr(client, method)(path, '{"title": "x"}', content_type="application/json")
    assert response.status_code == 403
    assert Conversation.objects.get(pk=turn.conversation_id).title == "mine"


def test_reads_need_no_csrf_token() -> None:
    """GETs pass without a token (the check is on writes only)."""
    client = logged_in(make_user("alice"), enforce_csrf_checks=True)
    assert client.get("/api/conversations").status_code == 200


async def test_the_api_key_never_reaches_a_response(relay: Relay, relay_settings: Any) -> None:
    """With a real key configured, no page, API answer or socket frame contains it."""
    secret = "sk-secret-test"
    relay_settings.OPENAI_API_KEY = secret
    conversation = await relay.conversation()
    turn_id = await relay.start(QUICK, conversation)
    viewer = await relay.watch(turn_id)
    frames = []
    while True:
        message = await viewer.communicator.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            break
        frames.append(message["text"])
    await relay.wait_done(turn_id)
    bodies = [
        (await relay.client.get(path)).content.decode()
        for path in (
            "/",
            f"/c/{conversation}/",
            "/api/conversations",
            f"/api/conversations/{conversation}",
            f"/api/turns/{turn_id}",
            "/api/models",
        )
    ]
    assert all(bodies) and frames
    for text in [*bodies, *frames]:
        assert secret not in text
    assert secret not in json.dumps(await relay.stored(turn_id))


def test_the_chat_page_has_a_strict_content_security_policy() -> None:
    """`/` forbids inline and foreign scripts."""
    response = logged_in(make_user("alice")).get("/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy


def test_the_send_button_waits_for_the_script() -> None:
    """Clicked before the script has run, a live button would submit the form natively:
    the page reloads and the typed message is gone. It is served disabled."""
    page = logged_in(make_user("alice")).get("/").content.decode()
    button = re.search(r"<button[^>]*id=\"send-button\"[^>]*>", page)
    assert button is not None and " disabled" in button.group(0)


def test_the_chat_page_needs_a_login() -> None:
    """Logged out, `/` sends the browser to the login page."""
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/conversations"),
        ("delete", "/api/conversations"),
        ("post", "/api/conversations/{conversation}"),
        ("put", "/api/conversations/{conversation}"),
        ("get", "/api/conversations/{conversation}/turns"),
        ("post", "/api/turns/{turn}"),
        ("delete", "/api/turns/{turn}"),
        ("get", "/api/turns/{turn}/cancel"),
    ],
)
def test_a_wrong_method_is_a_405(method: str, path: str) -> None:
    """Each endpoint answers only its documented methods."""
    alice = make_user("alice")
    turn = a_finished_turn(alice)
    path = path.format(conversation=turn.conversation_id, turn=turn.pk)
    response = getattr(logged_in(alice), method)(path)
    assert response.status_code == 405
    assert Conversation.objects.filter(pk=turn.conversation_id).exists()
    assert Turn.objects.get(pk=turn.pk).status == "completed"


async def test_a_conversation_with_a_streaming_turn_is_not_deleted(relay: Relay) -> None:
    """DELETE while a turn streams is a 409 with a message; after it ends, it goes."""
    conversation = await relay.conversation()
    turn_id = await relay.start("Story [sim:markdown tps=50 deltas=40 seed=2]", conversation)
    response = await relay.client.delete(f"/api/conversations/{conversation}")
    assert response.status_code == 409
    assert response.json()["error"]
    assert await Conversation.objects.filter(pk=conversation).aexists()
    await relay.wait_done(turn_id)
    assert (await relay.client.delete(f"/api/conversations/{conversation}")).status_code == 204
    assert not await Turn.objects.filter(pk=turn_id).aexists()


async def test_cancel_answers_202(relay: Relay) -> None:
    """POST cancel on one's own streaming turn → 202, and the turn ends cancelled."""
    turn_id = await relay.start("Story [sim:long tps=50 deltas=2000 seed=3]")
    response = await relay.client.post(f"/api/turns/{turn_id}/cancel")
    assert response.status_code == 202
    turn = await relay.wait_done(turn_id, timeout=5)
    assert turn.status == "cancelled"


UNSTORABLE = {"NUL": "a\x00b", "lone surrogate": "a\ud800b"}


@pytest.mark.parametrize("bad", list(UNSTORABLE.values()), ids=list(UNSTORABLE))
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("turns", "input", lambda bad: {"input": bad}),
        ("turns", "model", lambda bad: {"input": "hi", "model": bad}),
        ("turns", "instructions", lambda bad: {"input": "hi", "instructions": bad}),
        ("conversations", "title", lambda bad: {"title": bad}),
        ("conversations", "tools[0]", lambda bad: {"tools": [bad]}),
    ],
)
def test_unstorable_characters_are_a_400_naming_the_field(
    bad: str, path: str, field: str, body: Any
) -> None:
    """NUL and lone surrogates anywhere in a body are refused with the field's name, and
    nothing is stored (issue 20, item 6)."""
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    url = f"/api/conversations/{conversation.pk}/turns" if path == "turns" else "/api/conversations"
    # json.dumps escapes both as \\u0000 / \\ud800: the bytes on the wire are valid UTF-8.
    response = post_json(logged_in(alice), url, body(bad))
    assert response.status_code == 400
    assert f"'{field}'" in response.json()["error"]
    assert not Turn.objects.exists()
    assert Conversation.objects.count() == 1


def test_deeply_nested_json_is_a_400() -> None:
    """A 5,000-deep body is refused with a message, not a server error (item 7)."""
    alice = make_user("alice")
    conversation = Conversation.objects.create(owner=alice)
    deep = '{"input": "hi", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    response = logged_in(alice).post(
        f"/api/conversations/{conversation.pk}/turns", deep, content_type="application/json"
    )
    assert response.status_code == 400
    assert "deeper" in response.json()["error"]
    shallow = '{"input": "hi", "x": ' + "[" * 40 + "]" * 40 + "}"
    response = logged_in(alice).post(
        f"/api/conversations/{conversation.pk}/turns", shallow, content_type="application/json"
    )
    assert response.status_code == 400 and "deeper" in response.json()["error"]
    assert not Turn.objects.exists()
