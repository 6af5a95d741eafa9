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
ALL = (
    JOB_QUEUED,
    JOB_STARTED,
    JOB_PROGRESS,
    JOB_PARTIAL,
    JOB_SUCCEEDED,
    JOB_FAILED,
    VERSION_CREATED,
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
    new_asset: bool


def job_payload(event_type: str, job: JobView, preview: str | None = None) -> dict:
    return {"type": event_type, "job": asdict(job), "preview": preview}


def version_payload(asset: AssetView, job_id: str) -> dict:
    return {"type": VERSION_CREATED, "asset": asdict(asset), "job_id": job_id}


def job_from_payload(payload: dict) -> JobView:
    return JobView(**payload["job"])


def asset_from_payload(payload: dict) -> AssetView:
    return AssetView(**payload["asset"])
