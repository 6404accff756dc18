"""An upstream's full error text (a proxy's traceback) is for staff: the owner's socket, the
API and the export carry only the short message; the admin's turn page shows all of it."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from tests.local_servers import LocalServer
from tests.relay_harness import Relay
from tests.upstream.test_client import TRACEBACK

pytestmark = pytest.mark.django_db(transaction=True)

# A line only the full text holds (the user's message is the traceback's last line).
MARKER = "return route(request)"


async def test_the_full_error_text_reaches_staff_only(
    relay: Relay, relay_settings, local_server: LocalServer
) -> None:
    local_server.routes = {"/v1/responses": (500, "text/plain", TRACEBACK.encode())}
    relay_settings.OPENAI_BASE_URL = local_server.url + "/v1"
    turn_id = await relay.start("hello")
    viewer = await (await relay.watch(turn_id)).read_until_closed()
    turn = await relay.wait_done(turn_id)
    assert turn.status == "failed" and turn.error == "HTTP 500: KeyError: 'choices'"
    assert turn.error_detail == TRACEBACK.strip()

    errors = [e["event"] for e in viewer.envelopes if e["event"]["type"] == "relay.error"]
    assert [e["message"] for e in errors] == [turn.error]
    assert MARKER not in json.dumps(viewer.envelopes)
    again = await (await relay.watch(turn_id)).read_until_closed()  # a replay from the log
    assert again.envelopes == viewer.envelopes
    api = await relay.client.get(f"/api/turns/{turn_id}")
    assert api.status_code == 200 and MARKER not in api.content.decode()
    conversation = api.json()["conversation"]
    exported = await relay.client.get(f"/api/conversations/{conversation}/export?format=json")
    assert exported.status_code == 200 and MARKER not in exported.content.decode()

    staff = await sync_to_async(get_user_model().objects.create_superuser)("root", password="pw-r")
    admin = AsyncClient()
    await admin.aforce_login(staff)
    page = await admin.get(f"/admin/streaming/turn/{turn_id}/change/")
    assert page.status_code == 200 and MARKER in page.content.decode()
