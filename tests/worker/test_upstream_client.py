"""The worker's one upstream client: every turn it runs shares its connection pool."""

from __future__ import annotations

import pytest

from tests.local_servers import sse
from tests.relay_harness import Relay
from tests.upstream.test_transports import COMPLETED, CREATED, delta

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_turns_of_a_worker_share_one_pooled_connection(
    relay: Relay, relay_settings, local_server
) -> None:
    local_server.chunks = sse(CREATED, delta("pooled"), COMPLETED)
    relay_settings.OPENAI_BASE_URL = local_server.url + "/v1"
    # The API asks the upstream for its models once (cached): not the worker's pool.
    await relay.client.get("/api/models")
    asked, opened = len(local_server.seen), local_server.connections
    conversation = await relay.conversation()
    for text in ("one", "two", "three"):
        turn_id = await relay.start(text, conversation)
        assert (await relay.wait_done(turn_id)).status == "completed"
        stored = [e["event"] for e in await relay.stored(turn_id)]
        assert {"pooled"} == {e["delta"] for e in stored if e["type"].endswith("text.delta")}
    assert [s.target for s in local_server.seen[asked:]] == ["/v1/responses"] * 3
    assert local_server.connections - opened == 1
