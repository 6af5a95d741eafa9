"""Submitting a job (validate, hold credits, enqueue on commit) and running one.

Flow: submit() -> Job row + credit hold -> workers woken -> run() streams the engine's
events -> files + Version rows -> live.publish() to the gallery's group.
"""

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import Action, role_allows, role_in

from . import credits, events, imaging, lineup, live, versions
from .briefs import Brief, check_brief, compose_prompt, has_blockers
from .catalog import RATIOS, SizePlan, UnknownModel, cost, plan_size, registry
from .engines import (
    EngineError,
    EngineRequest,
    Finished,
    InvalidRequest,
    ModelUnavailable,
    Partial,
    Progress,
)
from .engines.factory import engine_for
from .models import Gallery, Job, JobStatus, Version, VersionKind

logger = logging.getLogger(__name__)

MAX_IMAGES = 4
# Kinds whose engine call sends the source version as the image (an edit-style call).
IMAGE_INPUT_KINDS = (VersionKind.EDIT, VersionKind.PROMOTE)
# An upscale calls no engine: the worker resamples the pixels itself. A flat fee for the
# CPU and the storage, whatever the factor (see iterations.upscale).
UPSCALE_CREDITS = 1
PREVIEW_SIDE = 320


class SubmitError(Exception):
    """A request the studio refuses; `field` names what to fix (or "__all__")."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


@dataclass
class JobRequest:
    """What a designer (or a script) asks for; validated by submit()."""

    brief: Brief
    model: str
    aspect_ratio: str = "1:1"
    quality: str = "medium"
    n: int = 1
    kind: str = VersionKind.GENERATE
    seed: int | None = None
    source_version: Version | None = None
    params: dict = field(default_factory=dict)
    prompt: str | None = None  # edits compose their own prompt
    idempotency_key: str = ""

    def fingerprint(self, gallery_id=None) -> str:
        """A hash of the request body, to tell a replay from a different request."""
        body = {
            "gallery": str(gallery_id) if gallery_id else None,
            "brief": self.brief.as_dict(),
            "model": self.model,
            "aspect_ratio": self.aspect_ratio,
            "quality": self.quality,
            "n": self.n,
            "kind": self.kind,
            "source": str(self.source_version.pk) if self.source_version else None,
            "prompt": self.prompt,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _validate(request: JobRequest):
    try:
        spec = registry().get(request.model)
    except UnknownModel:
        raise SubmitError("model", f"There is no model called “{request.model}”.") from None
    if request.kind == VersionKind.UPSCALE:
        # No engine runs: the model only records who drew the pixels, so a retired or
        # unconfigured model is no reason to refuse.
        return spec, request.prompt if request.prompt is not None else compose_prompt(request.brief)
    reason = lineup.check_usable(spec)
    if reason:
        raise SubmitError("model", reason)
    if request.aspect_ratio not in RATIOS:
        raise SubmitError("aspect_ratio", "Choose an aspect ratio of 1:1, 16:9 or 9:16.")
    if request.quality not in spec.qualities:
        raise SubmitError("quality", f"{spec.label} offers quality {', '.join(spec.qualities)}.")
    if not isinstance(request.n, int) or not 1 <= request.n <= MAX_IMAGES:
        raise SubmitError("n", f"Ask for between 1 and {MAX_IMAGES} images.")
    capability = "edit" if request.kind in IMAGE_INPUT_KINDS else "generate"
    if not spec.can(capability):
        raise SubmitError("model", f"{spec.label} cannot {capability} images.")
    findings = check_brief(request.brief, max_prompt_chars=spec.max_prompt_chars)
    if has_blockers(findings) and request.prompt is None:
        blocker = next(f for f in findings if f.severity == "error")
        raise SubmitError(blocker.field if blocker.field != "prompt" else "subject", blocker.hint)
    prompt = request.prompt if request.prompt is not None else compose_prompt(request.brief)
    if len(prompt) > spec.max_prompt_chars:
        raise SubmitError("subject", f"The prompt is over {spec.max_prompt_chars} characters.")
    return spec, prompt


def submit(user: User, gallery: Gallery, request: JobRequest) -> Job:
    """Validate, hold the credits and queue the job; workers are woken once it commits."""
    # A gallery fetched through permissions.get_for carries the user's role already.
    role = getattr(gallery, "user_role", None) or role_in(user, gallery.team_id)
    if not role_allows(role, Action.CREATE):
        raise SubmitError("__all__", "Your role in this team does not allow generating.", 403)
    if gallery.archived_at is not None:
        raise SubmitError("gallery", "This gallery is archived; restore it first.")
    spec, prompt = _validate(request)
    references = (request.params or {}).get("references", [])
    if request.kind == VersionKind.UPSCALE:
        total = UPSCALE_CREDITS * request.n
    else:
        total = cost(
            spec,
            request.quality,
            request.aspect_ratio,
            request.n,
            references=(1 + len(references)) if request.kind in IMAGE_INPUT_KINDS else 0,
        )
    fingerprint = request.fingerprint(gallery.pk)
    if request.idempotency_key:
        earlier = Job.objects.filter(
            created_by=user, idempotency_key=request.idempotency_key
        ).first()
        if earlier is not None:
            return _replay(earlier, fingerprint)
    source = request.source_version
    try:
        with transaction.atomic():
            job = Job.objects.create(
                team_id=gallery.team_id,
                gallery=gallery,
                asset_id=source.asset_id if source else None,
                source_version=source,
                created_by=user,
                kind=request.kind,
                brief=request.brief.as_dict(),
                prompt=prompt,
                model=spec.key,
                quality=request.quality,
                aspect_ratio=request.aspect_ratio,
                n=request.n,
                seed=request.seed if request.seed is not None else random.randrange(2**31),
                cost=total,
                params=request.params or {},
                idempotency_key=request.idempotency_key,
                request_hash=fingerprint,
                message="Waiting for a worker",
            )
            held = credits.hold(job)
            if Gallery.team.is_cached(gallery):  # a page showing the balance need not ask again
                gallery.team.credit_balance = held.balance_after
            transaction.on_commit(lambda: announce(job))
    except credits.InsufficientCredits as error:
        raise SubmitError("credits", str(error), 402) from error
    except IntegrityError:
        # The same idempotency key raced in from a parallel request.
        earlier = Job.objects.get(created_by=user, idempotency_key=request.idempotency_key)
        return _replay(earlier, fingerprint)
    return job


def _replay(earlier: Job, fingerprint: str) -> Job:
    if earlier.request_hash != fingerprint:
        raise SubmitError(
            "idempotency_key",
            "This Idempotency-Key was already used for a different request.",
            409,
        )
    return earlier


def announce(job: Job) -> None:
    """Show the new card to everyone watching and wake the workers."""
    payload = events.job_payload(events.JOB_QUEUED, live.job_view(job))

    async def both():
        await live.wake_workers()  # first: a worker claims while the card is delivered
        await live.publish(job.gallery_id, payload)

    async_to_sync(both)()


# --- running -----------------------------------------------------------------------------


@dataclass
class RunState:
    """What a running job keeps in memory between events."""

    job: Job
    view_created_by: str
    slot_progress: dict[int, float] = field(default_factory=dict)
    done_slots: set[int] = field(default_factory=set)
    last_saved: float = 0.0
    # A masked edit's keep-area restorer: the source and mask decoded once per job, when
    # its first image arrives, not again for each image of the job.
    restore: Callable | None = None


def _load(job_id) -> tuple[Job, set[int], bytes | None, bytes | None, list[bytes]]:
    job = Job.objects.select_related("created_by", "source_version").get(pk=job_id)
    # Only a retried job can have stored images already (its worker died after some).
    done = (
        set(Version.objects.filter(job=job).values_list("slot", flat=True))
        if job.attempts != 1
        else set()
    )
    if job.kind not in IMAGE_INPUT_KINDS:  # variations and upscales send no image
        return job, done, None, None, []
    from .edits import engine_inputs

    return job, done, *engine_inputs(job)


def _save_progress(job_id, progress: float, message: str) -> None:
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        progress=progress, message=message[:200]
    )


def _finish(job_id, status: str, message: str, error: str = "", code: str = "") -> Job:
    Job.objects.filter(pk=job_id).update(
        status=status,
        progress=1.0 if status == JobStatus.SUCCEEDED else 0.0,
        message=message[:200],
        error=error,
        error_code=code,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    return Job.objects.select_related("created_by").get(pk=job_id)


def _fail(job_id, error: EngineError | None, message: str, code: str) -> Job:
    """Fail the job and refund what it did not deliver."""
    with transaction.atomic():
        job = _finish(job_id, JobStatus.FAILED, "Failed", message, code)
        delivered = Version.objects.filter(job=job).count()
        per_image = job.cost // max(job.n, 1)
        refund = job.cost - per_image * delivered
        credits.refund(job, refund, note=f"Refund: {message[:150]}")
    if isinstance(error, ModelUnavailable):
        lineup.mark_unavailable(job.model, error.detail or error.message)
    return job


async def run(job_id) -> None:
    """Run one claimed job to the end: every outcome leaves it finished, never stuck."""
    job, done, source, mask, refs = await database_sync_to_async(_load)(job_id)
    spec = registry().get(job.model)
    plan = plan_size(spec, job.aspect_ratio)
    state = RunState(job=job, view_created_by=job.created_by.username if job.created_by else "")
    state.done_slots = done
    started = time.monotonic()
    state.last_saved = started  # the claim wrote "Starting"; no progress write before the engine
    await _publish_job(state, events.JOB_STARTED)
    request = EngineRequest(
        model=spec.api_model,
        prompt=job.prompt,
        width=plan.requested[0],
        height=plan.requested[1],
        quality=job.quality,
        n=job.n,
        seed=job.seed,
        brief=job.brief,
        partial_images=min(2, spec.partial_images),
        image=source,
        mask=mask,
        references=tuple(refs),
    )
    try:
        if job.kind == VersionKind.UPSCALE:
            await _run_upscale(state, started)
        else:
            async for event in engine_for(spec).run(request):
                if isinstance(event, Progress):
                    await _on_progress(state, event)
                elif isinstance(event, Partial):
                    await _on_partial(state, event)
                elif isinstance(event, Finished):
                    await _on_finished(state, event, plan, started)
    except EngineError as error:
        failed = await database_sync_to_async(_fail)(
            job.pk, error, error.message, type(error).default_code
        )
        await _publish_job(state, events.JOB_FAILED, failed)
        return
    except Exception:
        logger.exception("Job %s crashed", job.pk)
        failed = await database_sync_to_async(_fail)(
            job.pk,
            None,
            "Something went wrong on our side; your credits were refunded.",
            "internal",
        )
        await _publish_job(state, events.JOB_FAILED, failed)
        return
    finished = await database_sync_to_async(_finish)(job.pk, JobStatus.SUCCEEDED, "Done")
    await _publish_job(state, events.JOB_SUCCEEDED, finished)


async def _publish_job(state: RunState, event_type: str, job: Job | None = None, preview=None):
    job = job or state.job
    view = live.job_view(job, state.view_created_by)
    if event_type == events.JOB_STARTED:
        view = _with(view, status="running", status_label="Running", message="Starting")
    await live.publish(job.gallery_id, events.job_payload(event_type, view, preview))


def _with(view: events.JobView, **changes) -> events.JobView:
    from dataclasses import replace

    return replace(view, **changes)


async def _on_progress(state: RunState, event: Progress) -> None:
    state.slot_progress[event.slot] = event.fraction
    n = max(state.job.n, 1)
    progress = sum(state.slot_progress.get(slot, 0.0) for slot in range(n)) / n
    view = _with(
        live.job_view(state.job, state.view_created_by),
        status="running",
        status_label="Running",
        progress=progress,
        message=event.message,
    )
    await live.publish(state.job.gallery_id, events.job_payload(events.JOB_PROGRESS, view))
    now = time.monotonic()
    if now - state.last_saved > 0.5:  # the database needs progress for reconnects, not every tick
        state.last_saved = now
        await database_sync_to_async(_save_progress)(state.job.pk, progress, event.message)


async def _on_partial(state: RunState, event: Partial) -> None:
    preview = await asyncio.to_thread(_preview_data_url, event.image)
    if preview:
        view = live.job_view(state.job, state.view_created_by)
        await live.publish(
            state.job.gallery_id, events.job_payload(events.JOB_PARTIAL, view, preview)
        )


def _preview_data_url(image: bytes) -> str | None:
    import base64

    try:
        img = imaging.open_image(image)
    except imaging.ImageRejected:
        return None
    img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    data = imaging.export(img, "jpeg", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


async def _on_finished(state: RunState, event: Finished, plan, started: float) -> None:
    job = state.job
    if event.slot in state.done_slots:
        return  # stored by an earlier attempt of this job
    if job.kind == VersionKind.EDIT and state.restore is None:
        state.restore = await asyncio.to_thread(_restorer, job)
    stored = await versions.prepare_and_upload(job, event.image, plan.final, state.restore)
    await _record(state, event.slot, *stored, plan.requested, started)


async def _run_upscale(state: RunState, started: float) -> None:
    """An upscale calls no engine: the worker enlarges the source itself, then stores it
    like an engine's image, so it arrives live the same way."""
    from .iterations import enlarge

    job = state.job
    if 0 in state.done_slots:
        return  # stored by an earlier attempt of this job
    await _on_progress(state, Progress(0, 0.1, "Enlarging the image"))
    try:
        enlarged = await asyncio.to_thread(enlarge, job)
    except imaging.ImageRejected as error:
        raise InvalidRequest(error.message) from error
    await _on_progress(state, Progress(0, 0.6, "Storing the enlarged image"))
    plan = SizePlan(requested=enlarged.size, final=enlarged.size)  # no crop: same frame
    stored = await versions.prepare_and_upload(job, enlarged, plan.final)
    await _record(state, 0, *stored, plan.requested, started)


async def _record(state: RunState, slot: int, files, names, requested, started: float) -> None:
    """Record the Version of one stored image and show it to everyone watching."""
    job = state.job
    duration = int((time.monotonic() - started) * 1000)
    recorded = await database_sync_to_async(versions.record)(
        job, slot, files, names, requested, duration
    )
    if recorded is None:
        await asyncio.to_thread(versions.discard, *names)
        return
    asset, version = recorded
    state.done_slots.add(slot)
    view = live.asset_view(asset, version, created_by=state.view_created_by)
    await live.publish(job.gallery_id, events.version_payload(view, str(job.pk)))


def _restorer(job: Job):
    """For masked edits: put back every pixel outside the mask, unless the user opted out."""
    params = job.params or {}
    if not params.get("keep_outside_mask", True) or not params.get("mask"):
        return None
    from django.core.files.storage import default_storage

    source = versions.open_original(job.source_version)
    with default_storage.open(params["mask"]) as handle:
        mask = imaging.load_painted_mask(handle.read(), source.size)
    feather = int(params.get("feather", 8))
    return lambda edited: imaging.restore_outside_mask(source, edited, mask, feather)


def failed_payload(job: Job) -> dict:
    return events.job_payload(events.JOB_FAILED, live.job_view(job))
