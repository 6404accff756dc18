"""Queries: what the views, the socket consumer, the worker and the sweep read.

State changes are in `streaming/services/`. Owner-scoped look-ups raise `DoesNotExist` for
another user's rows exactly as for rows that never were, so neither can be told apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from streaming.models import (
    Conversation,
    ModerationStatus,
    ToolEntry,
    TranscriptView,
    Turn,
    TurnEvent,
)
from streaming.protocol.fold import TurnFold
from streaming.protocol.statuses import TURN_ACTIVE, TURN_FINAL
from streaming.tools.catalogue import Entry

# How many ids one sweep takes at a time; the next sweep takes the rest.
SWEEP_BATCH = 100
# A check claimed `pending` may be one whose worker died before it ended.
MODERATION_UNFINISHED = [ModerationStatus.UNCHECKED, ModerationStatus.PENDING]


def conversation_list(*, user: Any, limit: int = 200) -> list[Conversation]:
    return list(Conversation.objects.filter(owner=user).select_related("preset")[:limit])


def conversation_get(*, conversation_id: Any, user: Any) -> Conversation:
    return Conversation.objects.get(pk=conversation_id, owner=user)


def conversation_turns(*, conversation: Conversation) -> list[Turn]:
    """The turns of the active path (the branch the user sees), oldest first."""
    tree = _turn_tree(conversation_id=conversation.pk)
    ids = _path_to(tree, _leaf(tree, conversation.active_leaf_id))
    found = {t.pk: t for t in conversation.turns.filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def turn_siblings(*, conversation: Conversation) -> dict[Any, list[str]]:
    """For every turn, the ids of the turns at its place (its parent's children), in order."""
    places: dict[Any, list[str]] = {}
    tree = _turn_tree(conversation_id=conversation.pk)
    for turn_id, parent_id in tree.items():
        places.setdefault(parent_id, []).append(str(turn_id))
    return {turn_id: places[parent_id] for turn_id, parent_id in tree.items()}


def turn_ratings(*, turns: list[Turn]) -> dict[Any, str]:
    """{turn id: "up" | "down"} for those of `turns` their owner rated."""
    from streaming.models import Feedback

    rows = Feedback.objects.filter(turn__in=turns).values_list("turn_id", "rating")
    return dict(rows)


def turn_newest_leaf(*, turn: Turn) -> Any:
    """The end of the path through `turn` that follows the newest child at each step."""
    tree = _turn_tree(conversation_id=turn.conversation_id)
    newest: dict[Any, Any] = {}
    for turn_id, parent_id in tree.items():  # oldest first: the last child written wins
        newest[parent_id] = turn_id
    leaf = turn.pk
    for _ in tree:
        if leaf not in newest:
            break
        leaf = newest[leaf]
    return leaf


def _turn_tree(*, conversation_id: Any) -> dict[Any, Any]:
    """{turn id: parent id}, oldest first."""
    rows = Turn.objects.filter(conversation_id=conversation_id).order_by("created_at", "pk")
    return dict(rows.values_list("pk", "parent_id"))


def _leaf(tree: dict[Any, Any], leaf: Any) -> Any:
    """The stored active leaf, or the newest turn where none is stored."""
    if leaf in tree:
        return leaf
    return next(reversed(tree), None)


def _path_to(tree: dict[Any, Any], leaf: Any) -> list[Any]:
    """The ids from the first turn down to `leaf` (bounded: a corrupt loop cannot hang)."""
    path: list[Any] = []
    while leaf is not None and len(path) <= len(tree):
        path.append(leaf)
        leaf = tree.get(leaf)
    return path[::-1]


def conversation_has_active_turn(*, conversation: Conversation) -> bool:
    return conversation.turns.filter(status__in=TURN_ACTIVE).exists()


def turn_get(*, turn_id: Any, user: Any) -> Turn:
    return Turn.objects.get(pk=turn_id, conversation__owner=user)


def turn_find(*, turn_id: Any, user: Any) -> Turn | None:
    """`turn_get`, None instead of raising (the socket consumer refuses with a close code)."""
    return Turn.objects.filter(pk=turn_id, conversation__owner=user).first()


def turns_earlier(*, turn: Turn) -> list[dict[str, Any]]:
    """The turns before `turn` on its path (its parent and theirs), oldest first: what its
    history is made of. Other branches are not."""
    tree = _turn_tree(conversation_id=turn.conversation_id)
    ids = _path_to(tree, turn.parent_id)
    found = {t.pk: t for t in Turn.objects.filter(pk__in=ids).prefetch_related("attachments")}
    turns = [found[i] for i in ids if i in found]
    return [
        {
            "input": t.input,
            "output": t.output,
            "output_text": t.output_text,
            "status": t.status,
            "response_ids": t.response_ids,
            "attachments": list(t.attachments.all()),
        }
        for t in turns
    ]


def turn_log_rows(*, turn: Turn) -> list[tuple[str, str]]:
    """The turn's stored log as (type, data), in `seq` order."""
    rows = TurnEvent.objects.filter(turn=turn).order_by("seq").values_list("type", "data")
    return list(rows)


def turn_container_file(*, turn: Turn, container_id: str, file_id: str) -> str | None:
    """The name the turn's output gives this container file (a `container_file_citation`),
    or None when the turn cites no such file. A turn still running is read from its log."""
    output = turn.output
    if turn.status not in TURN_FINAL:
        output = TurnFold.from_log(turn_log_rows(turn=turn)).output
    for note in _annotations(output or []):
        if (
            note.get("type") == "container_file_citation"
            and note.get("container_id") == container_id
            and note.get("file_id") == file_id
        ):
            return str(note.get("filename") or file_id)
    return None


def _annotations(output: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The annotations of the output's message parts."""
    for item in output:
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            notes = part.get("annotations") if isinstance(part, dict) else None
            yield from (note for note in notes or [] if isinstance(note, dict))


def turns_left_queued(*, older_than: float) -> list[Any]:
    """Ids of turns still queued after `older_than` seconds (their wake-up was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    queued = Turn.objects.filter(status=Turn.Status.QUEUED, created_at__lt=cutoff)
    return list(queued.values_list("pk", flat=True)[:SWEEP_BATCH])


def turns_left_waiting(*, before: datetime) -> list[Any]:
    """Ids of turns waiting on MCP approvals since before `before` (nobody answered)."""
    waiting = Turn.objects.filter(status=Turn.Status.WAITING, waiting_since__lt=before)
    return list(waiting.values_list("pk", flat=True)[:SWEEP_BATCH])


def turns_unchecked(*, before: datetime) -> QuerySet[Turn]:
    """Turns that ended before `before` and were never checked, or whose check never ended."""
    return Turn.objects.filter(
        status__in=TURN_FINAL, moderation_status__in=MODERATION_UNFINISHED, finished_at__lt=before
    )


def turns_left_unchecked(*, before: datetime) -> list[Any]:
    """Ids of `turns_unchecked`; none while moderation is off."""
    if settings.MODERATION_MODE == "off":
        return []
    return list(turns_unchecked(before=before).values_list("pk", flat=True)[:SWEEP_BATCH])


def transcript_views(*, turn: Turn, limit: int = 20) -> list[TranscriptView]:
    return list(TranscriptView.objects.filter(turn_ref=str(turn.pk))[:limit])


def presets_visible(*, user: Any) -> list[Any]:
    """The presets for everyone, and those of the user's groups."""
    from django.db.models import Count, Q

    from streaming.models import Preset

    groups = user.groups.all()
    return list(
        Preset.objects.annotate(n=Count("groups")).filter(Q(n=0) | Q(groups__in=groups)).distinct()
    )


def uploads_get(*, ids: list[Any], user: Any) -> list[Any]:
    """The user's uploads with these ids, in that order; `DoesNotExist` if one is not theirs."""
    from streaming.models import Upload

    found = {u.pk: u for u in Upload.objects.filter(pk__in=ids, owner=user)}
    if len(found) < len(set(ids)):
        raise Upload.DoesNotExist
    return [found[i] for i in ids]


def turns_search(*, user_id: Any, words: list[str], limit: int) -> list[dict[str, Any]]:
    """The user's finished turns whose input or answer holds every word, newest first (a
    plain query until the app has a search index)."""
    found = Turn.objects.filter(conversation__owner_id=user_id, status__in=TURN_FINAL)
    for word in words:
        found = found.filter(Q(input__icontains=word) | Q(output_text__icontains=word))
    rows = found.order_by("-created_at").values(
        "conversation_id", "conversation__title", "input", "output_text", "created_at"
    )[:limit]
    return [
        {
            "conversation": str(row["conversation_id"]),
            "title": row["conversation__title"],
            "message": row["input"][:500],
            "answer": row["output_text"][:1000],
            "at": row["created_at"].isoformat(),
        }
        for row in rows
    ]


def tool_entries_for(*, user: Any) -> list[ToolEntry]:
    """The enabled catalogue entries the user may use: those without groups, and those of a
    group the user is in."""
    mine = ToolEntry.objects.filter(enabled=True).prefetch_related("groups")
    group_ids = set(user.groups.values_list("pk", flat=True))
    return [e for e in mine if not e.groups.all() or group_ids & {g.pk for g in e.groups.all()}]


def tool_names_default(*, user: Any, preset: Any = None) -> list[str]:
    """A new turn's tools: its preset's (those the user may use), or the catalogue's defaults."""
    mine = tool_entries_for(user=user)
    if preset is not None and preset.tools:
        allowed = {entry.name for entry in mine}
        return [name for name in preset.tools if name in allowed]
    return [entry.name for entry in mine if entry.default]


def tool_names_check(*, user: Any, names: list[str]) -> str | None:
    """The first name the user may not use (unknown, disabled or of other groups), or None."""
    allowed = {entry.name for entry in tool_entries_for(user=user)}
    return next((name for name in names if name not in allowed), None)


def tool_entries_named(*, names: list[str]) -> list[ToolEntry]:
    """The enabled entries of these names, in that order (a name gone since is skipped)."""
    found = {e.name: e for e in ToolEntry.objects.filter(name__in=names, enabled=True)}
    return [found[n] for n in names if n in found]


def tool_entry_as_entry(row: ToolEntry) -> Entry:
    return Entry(
        name=row.name,
        label=row.label,
        default=row.default,
        enabled=row.enabled,
        groups=tuple(sorted(g.name for g in row.groups.all())),
        tool=row.tool,
        function=row.function,
    )


def tool_entries_all() -> list[Entry]:
    """Every catalogue entry, as the export writes it."""
    return [tool_entry_as_entry(r) for r in ToolEntry.objects.prefetch_related("groups")]
