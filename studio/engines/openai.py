"""The OpenAI engine: GPT Image models through the official SDK, streamed, retried by us.

Each requested image is its own streaming call with n=1 (one slot), all slots run
concurrently and their events are merged into one stream. The SDK's own retries are off
(max_retries=0) because the engine decides what is worth retrying: a rate limit is, an
exhausted quota is not. API facts: the team's research note on the OpenAI Images API
(reference/openai-images.md, next to DESIGN.md), checked against the SDK source.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import random
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import openai
from PIL import Image

from . import (
    AuthenticationFailed,
    EngineError,
    EngineEvent,
    EngineRequest,
    Finished,
    InvalidRequest,
    ModelUnavailable,
    Partial,
    PolicyRefusal,
    Progress,
    QuotaExhausted,
    TransientError,
)

BACKOFF_BASE = 0.5  # seconds before the second attempt; doubles each time after

POLICY_MESSAGE = (
    "The image service refused this brief under its content policy. "
    "Rephrase the brief and try again."
)

type Emit = Callable[[EngineEvent], None]


# --- mapping SDK errors to ours -----------------------------------------------------------


def _api_message(exc: openai.APIError) -> str:
    """The API's own explanation, without the SDK's "Error code: 400 - " prefix."""
    body = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message


def _is_moderation(exc: openai.APIError) -> bool:
    code = (exc.code or "").lower()
    if code == "moderation_blocked":
        return True
    text = f"{code} {_api_message(exc)}".lower()
    return exc.type == "image_generation_user_error" and ("moderation" in text or "safety" in text)


def map_error(exc: openai.APIError, model: str) -> EngineError:
    """Translate an SDK exception into the engine error the studio acts on."""
    detail = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, openai.APITimeoutError):
        return TransientError(
            "The image service took too long to answer. Try again in a moment.",
            code="timeout",
            detail=detail,
        )
    if isinstance(exc, openai.APIConnectionError):
        return TransientError(
            "The connection to the image service failed or dropped. Try again in a moment.",
            code="connection_error",
            detail=detail,
        )
    if _is_moderation(exc):
        return PolicyRefusal(POLICY_MESSAGE, code="moderation_blocked", detail=detail)
    if exc.code == "insufficient_quota" or exc.type == "insufficient_quota":
        return QuotaExhausted(
            "The image service account has run out of credit. Ask an admin to check its billing.",
            code="insufficient_quota",
            detail=detail,
        )
    if exc.code == "model_not_found" or isinstance(exc, openai.NotFoundError):
        return ModelUnavailable(
            f"The model {model} is not available any more. Choose another model and try again.",
            code="model_not_found",
            detail=detail,
        )
    if not isinstance(exc, openai.APIStatusError):
        # An error object inside the event stream: the generation broke off on their side.
        return TransientError(
            "The image service stopped in the middle of the image. Try again in a moment.",
            code=exc.code or "stream_error",
            detail=detail,
        )
    status = exc.status_code
    if status == 401:
        return AuthenticationFailed(
            "The image service rejected the API key. Check the key in the settings.",
            code=exc.code or "invalid_api_key",
            detail=detail,
        )
    if status == 403:
        return AuthenticationFailed(
            f"This API key may not use {model}: {_api_message(exc)}",
            code=exc.code or "permission_denied",
            detail=detail,
        )
    if status in (408, 409, 429) or status >= 500:
        busy = status == 429
        return TransientError(
            "The image service is busy right now. Try again in a moment."
            if busy
            else "The image service had a temporary problem. Try again in a moment.",
            code=exc.code or ("rate_limited" if busy else f"http_{status}"),
            detail=detail,
        )
    return InvalidRequest(
        f"The image service rejected the request: {_api_message(exc)}",
        code=exc.code or f"http_{status}",
        detail=detail,
    )


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, then retry-after), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            if name == "retry-after":
                parsed = email.utils.parsedate_tz(value)  # the HTTP-date form
                if parsed is not None:
                    return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


# --- reading results ----------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image; PNG headers are read directly, others via Pillow."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except OSError as exc:  # not an image at all: treat like any other garbled answer
        raise ValueError(f"unreadable image: {exc}") from exc


def _mime_type(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def _file(name: str, data: bytes) -> tuple[str, bytes, str]:
    mime = _mime_type(data)
    return (f"{name}.{mime.removeprefix('image/')}", data, mime)


def _usage(event: Any) -> dict | None:
    usage = getattr(event, "usage", None)
    return usage.model_dump() if usage is not None else None


@dataclass
class _SlotDone:
    """Put on the merge queue when a slot task ends; carries its error, if any."""

    slot: int
    error: BaseException | None = None


# --- the engine ---------------------------------------------------------------------------


class OpenAIEngine:
    """GPT Image generations and edits over the OpenAI API (or a compatible gateway)."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = 3,
        max_backoff: float = 30.0,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # One client per engine: its connection pool is shared by every slot and job.
        self.client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )
        self.max_attempts = max(1, max_attempts)
        self.max_backoff = max_backoff
        self._sleep = sleep  # the retry clock; tests swap it to observe delays

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self.client.close()

    async def run(self, request: EngineRequest) -> AsyncIterator[EngineEvent]:
        """Run one streaming call per slot concurrently and yield their events as they come."""
        queue: asyncio.Queue[EngineEvent | _SlotDone] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._slot_task(request, slot, queue), name=f"openai-slot-{slot}")
            for slot in range(request.n)
        ]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if isinstance(item, _SlotDone):
                    running -= 1
                    if item.error is not None:
                        raise item.error
                    continue
                yield item
        finally:
            # On error, or when the consumer stops listening, the other slots are abandoned.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _slot_task(self, request: EngineRequest, slot: int, queue: asyncio.Queue) -> None:
        try:
            await self._run_slot(request, slot, queue.put_nowait)
        except Exception as exc:  # handed to run(), which raises it in the consumer
            queue.put_nowait(_SlotDone(slot, exc))
        else:
            queue.put_nowait(_SlotDone(slot))

    async def _run_slot(self, request: EngineRequest, slot: int, emit: Emit) -> None:
        """One slot with retries; a retry restarts the slot, superseding its earlier previews."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._attempt(request, slot, emit)
                return
            except openai.APIError as exc:
                error, hint = map_error(exc, request.model), retry_after(exc)
            except ValueError as exc:  # undecodable JSON or base64 in a 200 response
                error, hint = self._garbled(exc), None
            except TransientError as exc:
                error, hint = exc, None
            if not isinstance(error, TransientError):
                raise error
            if hint is not None and hint > self.max_backoff:
                raise TransientError(
                    f"The image service asked us to wait {_duration(hint)}. Try again later.",
                    code=error.code,
                    detail=error.detail,
                )
            if attempt == self.max_attempts:
                raise error
            if hint is None:
                hint = BACKOFF_BASE * 2 ** (attempt - 1) * random.uniform(0.75, 1.0)
            delay = min(hint, self.max_backoff)
            emit(Progress(slot, 0.0, f"Retrying ({attempt + 1} of {self.max_attempts})"))
            await self._sleep(delay)

    @staticmethod
    def _garbled(exc: ValueError) -> TransientError:
        return TransientError(
            "The image service sent back a damaged answer. Try again in a moment.",
            code="malformed_response",
            detail=f"{type(exc).__name__}: {exc}",
        )

    async def _attempt(self, request: EngineRequest, slot: int, emit: Emit) -> None:
        """One streaming call; raises if the stream ends without its completed event."""
        emit(Progress(slot, 0.05, f"Sent to {request.model}"))
        stream = await self._open_stream(request)
        kind = "image_edit" if request.is_edit else "image_generation"
        partials = max(0, request.partial_images)
        async with stream:
            async for event in stream:
                if event.type == f"{kind}.partial_image":
                    index = event.partial_image_index
                    emit(Partial(slot, index, base64.b64decode(event.b64_json)))
                    fraction = min(0.95, (index + 1) / (partials + 1))
                    emit(Progress(slot, fraction, f"Preview {index + 1} of {partials}"))
                elif event.type == f"{kind}.completed":
                    image = base64.b64decode(event.b64_json)
                    width, height = image_size(image)
                    emit(Progress(slot, 1.0, "Final image received"))
                    emit(Finished(slot, image, width, height, _usage(event)))
                    return
        raise TransientError(
            "The image stream was cut off before the final image arrived. Try again.",
            code="stream_incomplete",
        )

    async def _open_stream(self, request: EngineRequest) -> Any:
        common: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "size": request.size,
            "quality": request.quality,
            "n": 1,  # one image per call: slots stream and retry independently
            "stream": True,
            "partial_images": request.partial_images,
            "output_format": "png",
        }
        if request.background:
            common["background"] = request.background
        if not request.is_edit:
            return await self.client.images.generate(**common)
        assert request.image is not None
        # One file goes up as `image`, several as `image[]` (SDK behaviour); source first.
        image: Any = _file("image", request.image)
        if request.references:
            image = [image] + [
                _file(f"reference-{i}", data) for i, data in enumerate(request.references, 1)
            ]
        extra: dict[str, Any] = {}
        if request.mask is not None:
            extra["mask"] = ("mask.png", request.mask, "image/png")
        if request.input_fidelity:
            extra["input_fidelity"] = request.input_fidelity
        return await self.client.images.edit(image=image, **extra, **common)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} seconds"
    minutes = round(seconds / 60)
    return f"{minutes} minutes" if minutes < 90 else f"{round(minutes / 60)} hours"
