import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from streaming.protocol.statuses import TURN_ACTIVE
from streaming.upstream.options import REASONING_EFFORTS, VERBOSITIES

EFFORT_CHOICES = [(e, e) for e in REASONING_EFFORTS]
VERBOSITY_CHOICES = [(v, v) for v in VERBOSITIES]


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the next turn runs with (each turn keeps its own copy); blank: the defaults.
    model = models.CharField(max_length=100, blank=True)
    instructions = models.TextField(blank=True)
    reasoning_effort = models.CharField(max_length=8, blank=True, choices=EFFORT_CHOICES)
    verbosity = models.CharField(max_length=8, blank=True, choices=VERBOSITY_CHOICES)
    preset = models.ForeignKey(
        "Preset", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    # The last turn of the branch the user sees; the next turn goes after it (null: none yet).
    active_leaf = models.ForeignKey(
        "Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.id.hex[:8]}"


class ModerationStatus(models.TextChoices):
    UNCHECKED = "", "not checked"
    PENDING = "pending"
    CLEAN = "clean"
    FLAGGED = "flagged"
    ERROR = "error"


class Turn(models.Model):
    """One user message and everything streamed back for it. The row is also the job."""

    # The members of `streaming.protocol.statuses` (TURN_ACTIVE + TURN_FINAL), spelled out
    # for Django's migrations; tests/protocol/test_statuses.py checks that they agree.
    class Status(models.TextChoices):
        QUEUED = "queued"
        STREAMING = "streaming"
        WAITING = "waiting"
        COMPLETED = "completed"
        INCOMPLETE = "incomplete"
        FAILED = "failed"
        CANCELLED = "cancelled"
        INTERRUPTED = "interrupted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    # The turn this one follows (null: the first); siblings share a parent (branches).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    input = models.TextField()
    model = models.CharField(max_length=100)
    # What the turn was run with, copied from its conversation when it started.
    instructions = models.TextField(blank=True)
    reasoning_effort = models.CharField(max_length=8, blank=True, choices=EFFORT_CHOICES)
    verbosity = models.CharField(max_length=8, blank=True, choices=VERBOSITY_CHOICES)
    attachments = models.ManyToManyField("Upload", blank=True, related_name="turns")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    response_ids = models.JSONField(default=list, blank=True)
    output = models.JSONField(default=list, blank=True)
    output_text = models.TextField(blank=True)
    usage = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The upstream's full error text (a proxy's traceback, a whole error page): for staff in
    # the admin only. Users see `error`, and the log's relay.error carries only the short
    # message, because the log is what a user's socket replays.
    error_detail = models.TextField(blank=True)
    anomalies = models.JSONField(default=list, blank=True)
    # The catalogue names chosen for the turn (streaming/tools/catalogue.py), and the answers
    # to its MCP approval requests (`{approval_request_id: approve}`) while it waits.
    tools = models.JSONField(default=list, blank=True)
    approvals = models.JSONField(default=dict, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)

    # Moderation (streaming/moderation/moderators.py): "" until checked after the turn ends.
    flagged = models.BooleanField(default=False, db_index=True)
    moderation_status = models.CharField(
        max_length=8, choices=ModerationStatus.choices, default="", blank=True
    )
    moderation = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    first_event_at = models.DateTimeField(null=True, blank=True)
    first_text_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The worker that owns the turn: its channel (for cancel messages) and lease.
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # A conversation streams one turn at a time; the database enforces it (→ 409).
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=list(TURN_ACTIVE)),
                name="one_active_turn_per_conversation",
            )
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"Turn {self.id.hex[:8]} ({self.status})"

    @property
    def group_name(self) -> str:
        return f"turn.{self.id.hex}"

    @property
    def is_active(self) -> bool:
        return self.status in TURN_ACTIVE

    @property
    def timings(self) -> dict[str, Any]:
        """Milliseconds from creation; None for what has not happened."""

        def since_created(moment: Any) -> int | None:
            if moment is None or self.created_at is None:
                return None
            return round((moment - self.created_at).total_seconds() * 1000)

        started = since_created(self.started_at)
        first_text = since_created(self.first_text_at)
        return {
            "queued_ms": started,
            "first_event_ms": since_created(self.first_event_at),
            "ttft_ms": first_text,
            "total_ms": since_created(self.finished_at),
        }


class TurnEvent(models.Model):
    """The turn's log: append-only, numbered from 0 with no gaps, written by its worker."""

    # No index of its own: the (turn, seq) unique index serves every lookup by turn.
    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=120)
    data = models.TextField(
        help_text="The event JSON exactly as received (or as the relay wrote it)."
    )
    received_ms = models.BigIntegerField(help_text="Receive time, milliseconds since the epoch.")

    class Meta:
        ordering = ["turn", "seq"]
        constraints = [models.UniqueConstraint(fields=["turn", "seq"], name="turn_event_seq")]

    def __str__(self) -> str:
        return f"{self.turn_id} #{self.seq} {self.type}"


class TranscriptView(models.Model):
    """Who opened which transcript, and when: the reviewers' audit trail.

    Rows outlive the user and the turn they name (the names are kept as text), and nobody
    edits them.
    """

    class Kind(models.TextChoices):
        PAGE = "page"
        REPLAY = "replay"

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    viewer_name = models.CharField(max_length=150)
    turn = models.ForeignKey(Turn, null=True, on_delete=models.SET_NULL, related_name="+")
    turn_ref = models.CharField(max_length=36, db_index=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    viewed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-viewed_at"]

    def __str__(self) -> str:
        return f"{self.viewer_name} opened {self.turn_ref[:8]} ({self.kind})"


def upload_storage() -> Any:
    """The storage the `uploads` entry of STORAGES names (the file system by default)."""
    from django.core.files.storage import storages

    return storages["uploads"]


class Upload(models.Model):
    """A user's attachment; its bytes live in the `uploads` storage."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    file = models.FileField(storage=upload_storage, upload_to="%Y/%m/", max_length=300)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    # With UPLOAD_TO_PROVIDER: the id each upstream's files API gave it, by base URL (an id
    # from one provider means nothing to another).
    provider_files = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} bytes)"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Preset(models.Model):
    """An "assistant" staff define: a model, instructions and tools to start a chat from."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    model = models.CharField(max_length=100, blank=True)
    instructions = models.TextField(blank=True)
    reasoning_effort = models.CharField(max_length=8, blank=True, choices=EFFORT_CHOICES)
    tools = models.JSONField(
        default=list, blank=True, help_text="Names of the tools turned on by default."
    )
    groups = models.ManyToManyField(
        "auth.Group", blank=True, help_text="Who sees it; nobody chosen means everyone."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ToolEntry(models.Model):
    """A tool staff turned on (streaming/tools/catalogue.py): a Responses API tool object
    sent as it is, or a function plug-in named `package.module:callable`. Secrets are not
    stored: a header's value is `env:NAME`, read from the environment when a turn runs."""

    name = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    default = models.BooleanField(default=False, help_text="On for new turns.")
    enabled = models.BooleanField(default=True)
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        help_text="Only members of these groups may use it; none: everybody.",
    )
    tool = models.JSONField(null=True, blank=True, help_text="A Responses API tool object.")
    function = models.CharField(max_length=200, blank=True, help_text="package.module:callable")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return "function" if self.function else str((self.tool or {}).get("type", ""))


class Feedback(models.Model):
    """The owner's rating of a finished answer, and a reviewer's mark on it."""

    class Rating(models.TextChoices):
        UP = "up"
        DOWN = "down"

    turn = models.OneToOneField(Turn, on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=4, choices=Rating.choices, db_index=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rating} on {self.turn_id}"


class TurnReview(models.Model):
    """A reviewer's "reviewed" mark and note on a turn of the review queue."""

    turn = models.OneToOneField(Turn, on_delete=models.CASCADE, related_name="review")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"review of {self.turn_id}"


class ReviewQueueTurn(Turn):
    """The review queue in the admin: turns flagged or rated down (streaming/review/)."""

    class Meta:
        proxy = True
        verbose_name = "turn to review"
        verbose_name_plural = "review queue"


class Share(models.Model):
    """A read-only link to a conversation for the instance's logged-in users."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="share"
    )
    token = models.CharField(max_length=43, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"share of {self.conversation_id}"


class UsageDaily(models.Model):
    """A user's tokens on one model on one day (UTC): each finished turn adds to its row once
    (streaming/services/usage.py). Cost is not stored: it comes from MODEL_PRICES when read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=100)
    day = models.DateField()
    turns = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    cached_input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "user", "model"]
        constraints = [
            models.UniqueConstraint(fields=["user", "model", "day"], name="usage_daily_once")
        ]
        indexes = [models.Index(fields=["day"])]
        verbose_name_plural = "usage (daily)"

    def __str__(self) -> str:
        return f"{self.user_id} {self.model} {self.day}"


class Budget(models.Model):
    """A budget for one user or for one group, over BUDGET_TOKENS_PER_DAY and
    BUDGET_USD_PER_MONTH; a blank limit keeps the default (the group's, then the setting's)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    tokens_per_day = models.PositiveBigIntegerField(null=True, blank=True)
    usd_per_month = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name="USD per month"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="budget_for_a_user_or_a_group",
            )
        ]

    def __str__(self) -> str:
        return f"budget of {self.user or self.group}"
