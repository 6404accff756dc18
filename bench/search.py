"""Search over 100,000 stored turns, and the sidebar's first page with 10,000 conversations,
on SQLite and on PostgreSQL (when reachable on 127.0.0.1:5432): server time, measured in
the process around the selectors the views call.

    .venv/bin/python bench/search.py [sqlite|postgres]   # both when none is named

The user searched for owns 10,000 conversations of 5 turns; 50 other users own 1,000 turns
each. Texts are drawn from a 5,000-word vocabulary with Zipf-like frequencies, so queries
range from words in most turns to words in a handful.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import _common as c  # sets sys.path and DJANGO_SETTINGS_MODULE

TURNS, CONVERSATIONS, OTHERS = 100_000, 10_000, 50
PER_CONVERSATION = 5
QUERIES, PAGES = 200, 200
WORDS = [f"w{i}x" for i in range(5000)]
CUMULATIVE = list(itertools.accumulate(1 / (i + 1) for i in range(len(WORDS))))


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, cum_weights=CUMULATIVE, k=n))


def fill() -> object:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from streaming import search
    from streaming.models import Conversation, Turn
    from streaming.services.search import _db_id

    rng = random.Random(1)
    User = get_user_model()
    me = User.objects.create_user("bench")
    others = [User.objects.create_user(f"other{i}") for i in range(OTHERS)]
    owners = [me] * CONVERSATIONS + [o for o in others for _ in range(200)]
    with transaction.atomic():
        conversations = Conversation.objects.bulk_create(
            Conversation(owner=o, title=text(rng, 4)) for o in owners
        )
        turns = [
            Turn(
                conversation=cv,
                input=text(rng, 12),
                output_text=text(rng, 80),
                model="m",
                status="completed",
            )
            for cv in conversations
            for _ in range(PER_CONVERSATION)
        ][:TURNS]
        Turn.objects.bulk_create(turns, batch_size=2000)
        write = search.backend().write
        for turn in turns:
            cv = turn.conversation
            write(
                {
                    "turn_id": _db_id(turn.pk),
                    "owner_id": cv.owner_id,
                    "conversation_id": _db_id(cv.pk),
                    "title": cv.title,
                    "input": turn.input,
                    "answer": turn.output_text,
                    "created_at": turn.created_at,
                }
            )
    if connection.vendor == "postgresql":
        # A live table has statistics (autovacuum gathers them); a freshly filled one not yet,
        # and the planner needs them to tell common words from rare ones.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {search.TABLE}")
    return me


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def measure(label: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from streaming import selectors_search
    from streaming.web.serializers import conversation_summary

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    me = fill()
    print(f"{label}: filled {TURNS} turns in {time.perf_counter() - started:.0f} s")
    rng = random.Random(2)
    kinds = {"common word": WORDS[:20], "middling word": WORDS[200:1000], "rare word": WORDS[3000:]}
    for kind, pool in kinds.items():
        times = []
        for _ in range(QUERIES):
            query = rng.choice(pool) if kind != "common word" else " ".join(rng.sample(pool, 2))
            t0 = time.perf_counter()
            selectors_search.turn_search(user=me, query=query)
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"{label}: search, {kind}: p50 {statistics.median(times):.1f} ms, "
            f"p95 {p(times, 0.95):.1f} ms",
            flush=True,
        )
    times = []
    for _ in range(PAGES):
        t0 = time.perf_counter()
        rows, _next = selectors_search.conversation_page(user=me, limit=50, cursor=None)
        [conversation_summary(r) for r in rows]
        times.append((time.perf_counter() - t0) * 1000)
    print(
        f"{label}: sidebar first page (50 of {CONVERSATIONS}): p50 "
        f"{statistics.median(times):.2f} ms, p95 {p(times, 0.95):.2f} ms"
    )


def run(database: str) -> None:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as data:
        env["DATA_DIR"] = data
        name = None
        if database == "postgres":
            from tests.team import PG_ADMIN, admin_sql

            name = f"bench_search_{uuid.uuid4().hex[:8]}"
            admin_sql(f"CREATE DATABASE {name}")
            env["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        else:
            env["DATABASE_URL"] = f"sqlite:///{data}/bench.sqlite3"
        try:
            subprocess.run([sys.executable, __file__, "--inside", database], env=env, check=True)
        finally:
            if name:
                admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        measure(sys.argv[2])
    else:
        for database in sys.argv[1:] or ["sqlite", "postgres"]:
            run(database)
    _ = c
