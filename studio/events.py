"""Every live event the studio sends, and its payload. Nothing else invents event names.

An event carries everything its HTML fragment needs, so a consumer renders it without
touching the database. Payloads hold only plain values (they cross Redis as msgpack).
"""

from dataclasses import asdict, dataclass

JOB_QUEUED = "job.queued"
JOB_STARTED = "job.started"
JOB_PROGRESS = "job.progress"
JOB_PARTIAL = "job.partial"
JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"
VERSION_CREATED = "version.created"
COMMENT_ADDED = "comment.added"
REVIEW_CHANGED = "review.changed"
ALL = (
    JOB_QUEUED,
    JOB_STARTED,
    JOB_PROGRESS,
    JOB_PARTIAL,
    JOB_SUCCEEDED,
    JOB_FAILED,
    VERSION_CREATED,
    COMMENT_ADDED,
    REVIEW_CHANGED,
)


@dataclass(frozen=True)
class JobView:
    """What a job card shows."""

    id: str
    status: str
    status_label: str
    kind: str
    kind_label: str
    model: str
    model_label: str
    prompt: str
    n: int
    cost: int
    progress: float
    message: str
    error: str
    created_by: str
    engine: str

    @property
    def percent(self) -> int:
        return round(self.progress * 100)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")


@dataclass(frozen=True)
class AssetView:
    """What an asset card in the grid shows: its current version."""

    id: str
    title: str
    version_id: str
    kind: str
    kind_label: str
    model_label: str
    width: int
    height: int
    aspect_ratio: str
    review_status: str
    review_label: str
    created_by: str
    parent_id: str = ""
    created_at: str = ""
    is_favourite: bool = False  # per viewer: only pages rendered for a user set it

    @property
    def asset_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class CommentView:
    id: str
    version_id: str
    asset_id: str
    author: str
    body: str
    created_at: str


@dataclass(frozen=True)
class ReviewView:
    asset_id: str
    asset_title: str
    status: str
    label: str
    actor: str
    created_at: str


def job_payload(event_type: str, job: JobView, preview: str | None = None) -> dict:
    return {"type": event_type, "job": asdict(job), "preview": preview}


ACTIVITY_VERBS = {
    "generate": "generated an image",
    "edit": "made a masked edit",
    "variation": "made a variation",
    "upscale": "upscaled an image",
    "promote": "promoted a draft",
}


def version_payload(asset: AssetView, job_id: str, activity: str = "") -> dict:
    activity = (
        activity or f"{asset.created_by or 'Someone'} {ACTIVITY_VERBS.get(asset.kind, 'made')}"
    )
    return {"type": VERSION_CREATED, "asset": asdict(asset), "job_id": job_id, "activity": activity}


def comment_payload(comment: CommentView) -> dict:
    return {
        "type": COMMENT_ADDED,
        "comment": asdict(comment),
        "activity": f"{comment.author} commented",
    }


def review_payload(review: ReviewView) -> dict:
    return {
        "type": REVIEW_CHANGED,
        "review": asdict(review),
        "activity": f"{review.actor} marked “{review.asset_title[:40]}” {review.label.lower()}",
    }


def job_from_payload(payload: dict) -> JobView:
    return JobView(**payload["job"])


def asset_from_payload(payload: dict) -> AssetView:
    return AssetView(**payload["asset"])
