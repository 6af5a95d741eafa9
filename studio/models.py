"""Galleries of assets, each a stack of versions; the jobs that make them; the ledger."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Team


class Gallery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="galleries")
    name = models.CharField(max_length=80)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["archived_at", "created_at"]
        verbose_name_plural = "galleries"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default_for(cls, team: Team) -> "Gallery":
        gallery = cls.objects.filter(team=team, archived_at=None).first()
        return gallery or cls.objects.create(team=team, name="Main board")


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"


class Asset(models.Model):
    """One creative line: the versions made from one brief and its edits."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="assets")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="assets")
    title = models.CharField(max_length=200)
    current_version = models.ForeignKey(
        "Version", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["gallery", "-updated_at", "-id"]),
            models.Index(fields=["gallery", "review_status", "-updated_at"]),
        ]

    def __str__(self) -> str:
        return self.title


class VersionKind(models.TextChoices):
    GENERATE = "generate", "Generated"
    EDIT = "edit", "Masked edit"
    VARIATION = "variation", "Variation"
    UPSCALE = "upscale", "Upscale"
    PROMOTE = "promote", "Promoted"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Finished"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """One request to an engine. The job table is also the work queue."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="jobs")
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="jobs")
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    source_version = models.ForeignKey(
        "Version", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=VersionKind.choices)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    brief = models.JSONField(default=dict)
    prompt = models.TextField()
    model = models.CharField(max_length=64)
    quality = models.CharField(max_length=12)
    aspect_ratio = models.CharField(max_length=8)
    n = models.PositiveSmallIntegerField(default=1)
    seed = models.BigIntegerField(default=0)
    cost = models.PositiveIntegerField(default=0)
    # Inputs that are not part of the brief: mask and reference file names, edit options.
    params = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["gallery", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_job_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


# Files live under their team's folder so a storage listing never mixes teams.
def original_path(instance: models.Model, filename: str) -> str:
    return f"teams/{instance.team_id.hex}/originals/{filename}"


def thumbnail_path(instance: models.Model, filename: str) -> str:
    return f"teams/{instance.team_id.hex}/thumbs/{filename}"


def mask_path(instance: models.Model, filename: str) -> str:
    return f"teams/{instance.team_id.hex}/masks/{filename}"


class Version(models.Model):
    """Pixels plus everything that made them: brief, prompt, model, parameters, cost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="versions")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="versions")
    slot = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=VersionKind.choices)
    brief = models.JSONField(default=dict)
    prompt = models.TextField()
    model = models.CharField(max_length=64)
    quality = models.CharField(max_length=12)
    aspect_ratio = models.CharField(max_length=8)
    seed = models.BigIntegerField(default=0)
    cost = models.PositiveIntegerField(default=0)
    requested_width = models.PositiveIntegerField()
    requested_height = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    image = models.FileField(upload_to=original_path, max_length=300)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=300)
    mask = models.FileField(upload_to=mask_path, max_length=300, blank=True)
    checksum = models.CharField(max_length=64)
    duration_ms = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["asset", "created_at"])]
        constraints = [
            # A retried job must never store the same slot twice.
            models.UniqueConstraint(fields=["job", "slot"], name="one_version_per_job_slot")
        ]

    def __str__(self) -> str:
        return f"{self.asset} · {self.get_kind_display()}"


class CreditEntry(models.Model):
    """Append-only ledger; the team's balance is the sum of its entries."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        HOLD = "hold", "Held for a job"
        REFUND = "refund", "Refund"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credit_entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.IntegerField()  # signed: holds are negative
    balance_after = models.PositiveIntegerField()
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="credit_entries"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "credit entries"
        constraints = [
            # A job is refunded at most once, whatever the worker crashes in between.
            models.UniqueConstraint(
                fields=["job", "kind"], condition=Q(kind="refund"), name="one_refund_per_job"
            )
        ]


class SavedBrief(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="saved_briefs")
    name = models.CharField(max_length=80)
    brief = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]


class ModelOutage(models.Model):
    """A model the API answered "not found" for: it is treated as retired until cleared."""

    model = models.CharField(max_length=64, primary_key=True)
    reason = models.TextField(blank=True)
    since = models.DateTimeField(auto_now_add=True)


class Comment(models.Model):
    """A remark on one version; plain text, escaped wherever it is shown."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="comments")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ReviewEvent(models.Model):
    """One change of an asset's review status: its history."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="review_events")
    status = models.CharField(max_length=20, choices=ReviewStatus.choices)
    previous = models.CharField(max_length=20, choices=ReviewStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Favourite(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites"
    )
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "asset"], name="one_favourite_per_user")
        ]


class ShareLink(models.Model):
    """A read-only link to an asset or a gallery. Only the token's hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    gallery = models.ForeignKey(
        Gallery, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(asset__isnull=False) | Q(gallery__isnull=False),
                name="share_link_has_a_target",
            )
        ]
