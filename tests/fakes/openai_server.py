"""A fake OpenAI Images API: a real HTTP server on 127.0.0.1 speaking the real protocol.

`POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart), with the
validation, error bodies and SSE framing of the team's research note on the OpenAI Images API
(reference/openai-images.md next to DESIGN.md, sections 2-4 and the checklist in section 8).
The server runs on its own event loop in a background thread, so sync and async tests share
it; tests steer it with thread-safe knobs (latency, shut-down models, queued faults) and read
back exactly what the SDK sent from `requests`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import io
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web
from PIL import Image, ImageOps

FAULT_KINDS = frozenset(
    {
        "moderation",
        "rate_limit",
        "quota",
        "server_error",
        "unavailable",
        "malformed",
        "cut_stream",
        "stream_error",
        "timeout",
        "auth",
    }
)

GPT_IMAGE_1_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
BASE_QUALITIES = ("low", "medium", "high", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
MAX_PROMPT = 32_000
MAX_INPUT_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024

GENERATION_FIELDS = frozenset(
    {
        "prompt", "model", "n", "size", "quality", "background", "moderation", "output_format",
        "output_compression", "partial_images", "stream", "response_format", "style", "user",
        "safety_identifier",
    }
)  # fmt: skip
EDIT_FIELDS = frozenset(
    {
        "prompt", "model", "n", "size", "quality", "background", "input_fidelity",
        "output_format", "output_compression", "partial_images", "stream", "response_format",
        "user", "safety_identifier",
    }
)  # fmt: skip

# Output tokens of gpt-image-1 per quality for square / portrait / landscape (reference §6).
GPT_IMAGE_1_OUTPUT_TOKENS = {
    "low": (272, 408, 400),
    "medium": (1056, 1584, 1568),
    "high": (4160, 6240, 6208),
}
# gpt-image-1-mini: derived from its per-image prices at $8 per 1M output tokens (§6).
MINI_OUTPUT_TOKENS = {
    "low": (625, 750, 750),
    "medium": (1375, 1875, 1875),
    "high": (4500, 6500, 6500),
}


class FilePart(NamedTuple):
    """A file part of a multipart request, exactly as it arrived."""

    field_name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """What the client sent: path, headers (lower-case names) and the parsed body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None  # generations: the parsed JSON body
    form: dict[str, str] = field(default_factory=dict)  # edits: text parts
    files: list[FilePart] = field(default_factory=list)  # edits: file parts, in order
    part_names: list[str] = field(default_factory=list)  # edits: every part name, in order

    @property
    def body(self) -> Mapping[str, Any]:
        """The request's parameters, whichever way they were encoded."""
        return self.json if isinstance(self.json, Mapping) else self.form


@dataclass(frozen=True)
class Fault:
    kind: str
    options: Mapping[str, Any]


class ApiError(Exception):
    """An error answer in the API's `{"error": {...}}` shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.error = {"message": message, "type": type, "param": param, "code": code, **extra}

    def response(self) -> web.Response:
        return web.json_response({"error": self.error}, status=self.status, headers=self.headers)


def _invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _supported(value: object, allowed: tuple[str, ...]) -> str:
    quoted = [f"'{a}'" for a in allowed]
    listing = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    return f"Invalid value: '{value}'. Supported values are: {listing}."


# --- model families -----------------------------------------------------------------------


def _is_gpt_image_1(model: str) -> bool:
    return model.startswith(("gpt-image-1", "chatgpt-image"))


def _qualities(model: str) -> tuple[str, ...]:
    if model.startswith(("gpt-image-2.5", "gpt-image-2.6")):
        return ("low", "medium", "high", "xhigh", "max", "auto")
    return BASE_QUALITIES


def _check_size(model: str, size: object) -> None:
    if not isinstance(size, str):
        raise _invalid("size", f"Invalid type for 'size': expected a string, got {size!r}.")
    if _is_gpt_image_1(model):
        if size not in GPT_IMAGE_1_SIZES:
            raise _invalid("size", _supported(size, GPT_IMAGE_1_SIZES))
        return
    if size == "auto":
        return
    # gpt-image-2 and later (and unknown ids): free sizes under the gpt-image-2 rules.
    try:
        width, height = (int(side) for side in size.split("x"))
    except ValueError:
        raise _invalid("size", f"Invalid size '{size}'. Expected WIDTHxHEIGHT or 'auto'.") from None
    if width % 16 or height % 16:
        raise _invalid(
            "size", f"Invalid size '{size}'. Width and height must both be divisible by 16."
        )
    if max(width, height) > 3840:
        raise _invalid("size", f"Invalid size '{size}'. The longest edge must be at most 3840.")
    if not 1 / 3 <= width / height <= 3:
        raise _invalid(
            "size", f"Invalid size '{size}'. The aspect ratio must be between 1:3 and 3:1."
        )
    if not 655_360 <= width * height <= 8_294_400:
        raise _invalid(
            "size",
            f"Invalid size '{size}'. The total pixel count must be between 655360 and 8294400.",
        )


def _int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, default)
    if isinstance(raw, str):  # multipart sends numbers as text
        try:
            raw = int(raw)
        except ValueError:
            raise _invalid(name, f"Invalid type for '{name}': expected an integer.") from None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _invalid(name, f"Invalid type for '{name}': expected an integer.", "invalid_type")
    if raw < low:
        raise _invalid(
            name,
            f"Invalid '{name}': integer below minimum value. "
            f"Expected a value >= {low}, but got {raw} instead.",
            "integer_below_min_value",
        )
    if raw > high:
        raise _invalid(
            name,
            f"Invalid '{name}': integer above maximum value. "
            f"Expected a value <= {high}, but got {raw} instead.",
            "integer_above_max_value",
        )
    return raw


def _bool_param(params: Mapping[str, Any], name: str) -> bool:
    raw = params.get(name, False)
    if isinstance(raw, str) and raw in ("true", "false"):
        return raw == "true"
    if not isinstance(raw, bool):
        raise _invalid(name, f"Invalid type for '{name}': expected a boolean.", "invalid_type")
    return raw


@dataclass
class _Job:
    """A validated request, ready to be answered."""

    kind: str  # "image_generation" or "image_edit"
    model: str
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    output_format: str
    partial_images: int
    stream: bool
    input_images: list[bytes] = field(default_factory=list)
    input_fidelity: str | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def _validate(path_kind: str, params: Mapping[str, Any], files: list[FilePart]) -> _Job:
    """Reject what the real API rejects; return the normalised request otherwise."""
    allowed = GENERATION_FIELDS if path_kind == "image_generation" else EDIT_FIELDS
    for name in params:
        if name not in allowed:
            raise _invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")
    prompt = params.get("prompt")
    if not prompt:
        raise _invalid(
            "prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter"
        )
    if not isinstance(prompt, str):
        raise _invalid("prompt", "Invalid type for 'prompt': expected a string.", "invalid_type")
    if len(prompt) > MAX_PROMPT:
        raise _invalid(
            "prompt",
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT}, but got a string with length {len(prompt)} instead.",
            "string_above_max_length",
        )
    model = params.get("model") or (
        "dall-e-2" if path_kind == "image_generation" else "gpt-image-1.5"
    )
    quality = params.get("quality", "auto")
    if quality not in _qualities(model):
        raise _invalid("quality", _supported(quality, _qualities(model)))
    size = params.get("size", "auto")
    _check_size(model, size)
    n = _int_param(params, "n", 1, 1, 10)
    partial_images = _int_param(params, "partial_images", 0, 0, 3)
    stream = _bool_param(params, "stream")
    output_format = params.get("output_format", "png")
    if output_format not in OUTPUT_FORMATS:
        raise _invalid("output_format", _supported(output_format, OUTPUT_FORMATS))
    background = params.get("background", "auto")
    if background not in ("transparent", "opaque", "auto"):
        raise _invalid("background", _supported(background, ("transparent", "opaque", "auto")))
    if background == "transparent" and output_format == "jpeg":
        raise _invalid(
            "background", "Transparent background requires output_format 'png' or 'webp'."
        )
    if "response_format" in params and model.startswith("gpt-image"):
        raise _invalid(
            "response_format",
            "Unknown parameter: 'response_format'. GPT image models always return base64.",
            "unknown_parameter",
        )

    input_images: list[bytes] = []
    input_fidelity = params.get("input_fidelity")
    if path_kind == "image_edit":
        input_images = _check_edit_files(files)
        if input_fidelity is not None:
            if input_fidelity not in ("high", "low"):
                raise _invalid("input_fidelity", _supported(input_fidelity, ("high", "low")))
            # Not on mini; gpt-image-2 and later always use high fidelity and refuse it.
            if model.startswith(("gpt-image-1-mini", "gpt-image-2")):
                raise _invalid(
                    "input_fidelity",
                    f"input_fidelity is not supported for model '{model}'.",
                    "unsupported_parameter",
                )
    if size == "auto":
        width, height = (
            Image.open(io.BytesIO(input_images[0])).size if input_images else (1024, 1024)
        )
    else:
        width, height = (int(side) for side in size.split("x"))
    return _Job(
        kind=path_kind,
        model=model,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        quality="medium" if quality == "auto" else quality,
        background="opaque" if background == "auto" else background,
        output_format=output_format,
        partial_images=partial_images,
        stream=stream,
        input_images=input_images,
        input_fidelity=input_fidelity,
    )


def _check_edit_files(files: list[FilePart]) -> list[bytes]:
    images = [part for part in files if part.field_name in ("image", "image[]")]
    masks = [part for part in files if part.field_name == "mask"]
    others = [part.field_name for part in files if part not in images and part not in masks]
    if others:
        raise _invalid(others[0], f"Unknown parameter: '{others[0]}'.", "unknown_parameter")
    if not images:
        raise _invalid(
            "image", "Missing required parameter: 'image'.", "missing_required_parameter"
        )
    if len(images) > MAX_INPUT_IMAGES:
        raise _invalid(
            "image", f"Too many images provided. Expected at most {MAX_INPUT_IMAGES} images."
        )
    sizes = []
    for number, part in enumerate(images, 1):
        if len(part.data) >= MAX_IMAGE_BYTES:
            raise _invalid("image", f"Image {number} is too large; the limit is 50 MB.")
        try:
            with Image.open(io.BytesIO(part.data)) as image:
                if image.format not in ("PNG", "JPEG", "WEBP"):
                    raise ValueError(image.format)
                sizes.append(image.size)
        except Exception:
            raise _invalid(
                "image",
                f"Invalid image file or mode for image {number}, please check your image file.",
                "invalid_image_file",
            ) from None
    if len(masks) > 1:
        raise _invalid("mask", "Only one mask may be provided.")
    if masks:
        mask = masks[0]
        if len(mask.data) >= MAX_MASK_BYTES:
            raise _invalid("mask", "Invalid mask image: the mask must be smaller than 4 MB.")
        try:
            with Image.open(io.BytesIO(mask.data)) as image:
                mask_format, mode, mask_size = image.format, image.mode, image.size
                has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        except Exception:
            raise _invalid("mask", "Invalid mask image file.", "invalid_image_file") from None
        if mask_format != "PNG":
            raise _invalid(
                "mask",
                "Invalid mask image format - mask image must be a PNG.",
                "invalid_image_format",
            )
        if not has_alpha:
            raise _invalid(
                "mask",
                "Invalid mask image: the mask must have an alpha channel.",
                "invalid_image_file",
            )
        if mask_size != sizes[0]:
            raise _invalid(
                "mask",
                f"Invalid mask image size: the mask is {mask_size[0]}x{mask_size[1]} but the "
                f"image is {sizes[0][0]}x{sizes[0][1]}; they must match.",
            )
    return [part.data for part in images]


# --- pictures and usage -------------------------------------------------------------------


def _prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return (digest[0], digest[1], digest[2])


def _encode(image: Image.Image, output_format: str) -> bytes:
    buffer = io.BytesIO()
    if output_format == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=80)
    else:
        image.save(
            buffer,
            output_format.upper(),
            **({"compress_level": 1} if output_format == "png" else {}),
        )
    return buffer.getvalue()


@functools.lru_cache(maxsize=512)
def _solid_b64(width: int, height: int, colour: tuple[int, int, int], output_format: str) -> str:
    """A solid-colour image, cached: hundreds of concurrent requests stay cheap."""
    image = Image.new("RGB", (width, height), colour)
    return base64.b64encode(_encode(image, output_format)).decode()


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = (int(c * factor) for c in colour)
    return (r, g, b)


def _edited_b64(source: bytes, width: int, height: int, factor: float, output_format: str) -> str:
    """The source inverted everywhere (like the real model, which redraws the whole image)."""
    with Image.open(io.BytesIO(source)) as image:
        inverted = ImageOps.invert(image.convert("RGB"))
    if inverted.size != (width, height):
        inverted = inverted.resize((width, height))
    if factor != 1.0:
        inverted = inverted.point(lambda v: int(v * factor))
    return base64.b64encode(_encode(inverted, output_format)).decode()


def _usage(job: _Job) -> dict[str, Any]:
    shape = 0 if job.width == job.height else (1 if job.height > job.width else 2)
    if job.model.startswith("gpt-image-1-mini"):
        output = MINI_OUTPUT_TOKENS[job.quality if job.quality in MINI_OUTPUT_TOKENS else "high"][
            shape
        ]
    else:
        table = GPT_IMAGE_1_OUTPUT_TOKENS
        output = table[job.quality if job.quality in table else "high"][shape]
        if not _is_gpt_image_1(job.model):
            output = int(
                output * job.width * job.height / (1024 * 1024 if shape == 0 else 1536 * 1024)
            )
    output += 100 * job.partial_images  # each streamed partial costs 100 output tokens
    text_tokens = max(1, len(job.prompt) // 4)
    image_tokens = 0
    for _ in job.input_images:
        image_tokens += 323
        if job.input_fidelity == "high":
            image_tokens += 4096 if job.width == job.height else 6144
    input_tokens = text_tokens + image_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        "output_tokens": output * job.n,
        "output_tokens_details": {"image_tokens": output * job.n, "text_tokens": 0},
        "total_tokens": input_tokens + output * job.n,
    }


# --- faults -------------------------------------------------------------------------------


def _fault_error(fault: Fault, job: _Job) -> ApiError | None:
    """The error answer a fault turns into before anything is streamed, if any."""
    kind, options = fault.kind, fault.options
    if kind == "moderation":
        return ApiError(
            400,
            "Your request was rejected by the safety system. If you believe this is an error, "
            "contact us at help.openai.com and include the request ID. "
            "safety_violations=[violence].",
            type="image_generation_user_error",
            code="moderation_blocked",
            moderation_details={"moderation_stage": "input", "categories": ["violence"]},
        )
    if kind == "rate_limit":
        headers = {}
        if options.get("retry_after_ms", 10) is not None:
            headers["retry-after-ms"] = str(options.get("retry_after_ms", 10))
        if options.get("retry_after", 1) is not None:
            headers["retry-after"] = str(options.get("retry_after", 1))
        return ApiError(
            429,
            f"Rate limit reached for {job.model} in organization org-fake on images per min "
            "(IPM): Limit 5, Used 5, Requested 1. Please try again in 12s.",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if kind == "quota":
        return ApiError(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            type="insufficient_quota",
            code="insufficient_quota",
        )
    if kind == "server_error" or (kind == "stream_error" and not job.stream):
        return ApiError(
            500,
            "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )
    if kind == "unavailable":
        return ApiError(503, "The server is overloaded or not ready yet.", type="server_error")
    if kind == "auth":
        return _auth_error("Incorrect API key provided.", "invalid_api_key")
    return None


def _auth_error(message: str, code: str | None) -> ApiError:
    return ApiError(401, message, code=code)


def _sse(event_type: str, payload: Mapping[str, Any]) -> bytes:
    return f"event: {event_type}\ndata: {json.dumps(payload)}\n\n".encode()


# --- the server ---------------------------------------------------------------------------


class FakeOpenAI:
    """The fake API server. Use `with FakeOpenAI() as fake:` or `start()` / `stop()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self.latency = 0.0  # seconds before answering, and between stream events
        self.shutdown_models: set[str] = set()  # these answer 404 model_not_found
        self.api_key: str | None = None  # when set, any other key answers 401
        self.timeout_seconds = 30.0  # how long a "timeout" fault stalls (reset ends it early)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._released: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle --

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/images/generations", self._generations)
        app.router.add_post("/v1/images/edits", self._edits)
        # handler_cancellation: a client that hangs up (e.g. timed out) frees its handler.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()
        self._released = asyncio.Event()

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        self._release_pauses()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- knobs --

    def reset(self) -> None:
        """Forget requests, faults and settings; end any stalled answer from a previous test."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
        self.latency = 0.0
        self.shutdown_models = set()
        self.api_key = None
        self.timeout_seconds = 30.0
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._async_release(), self._loop).result(timeout=10)

    async def _async_release(self) -> None:
        self._release_pauses()

    def _release_pauses(self) -> None:
        if self._released is not None:
            self._released.set()
        self._released = asyncio.Event()

    def fail_next(self, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next `times` valid requests fail as `kind` (see FAULT_KINDS).

        Options: rate_limit takes `retry_after_ms` (default 10) and `retry_after` (seconds,
        default 1), None leaves the header out; timeout takes `seconds`; cut_stream takes
        `clean=True` to end the body properly (no `completed` event) instead of hanging up.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.extend(Fault(kind, dict(options)) for _ in range(times))

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        released = self._released
        assert released is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), seconds)

    # -- handlers --

    async def _generations(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record_start(request)
        try:
            recorded.json = await request.json()
        except ValueError:
            recorded.json = None
        self._record(recorded)
        return await self._answer(request, recorded, "image_generation")

    async def _edits(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record_start(request)
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                data = bytes(await part.read(decode=False))
                recorded.part_names.append(part.name)
                if part.filename is None:
                    recorded.form[part.name] = data.decode()
                else:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    recorded.files.append(FilePart(part.name, part.filename, content_type, data))
        self._record(recorded)
        return await self._answer(request, recorded, "image_edit")

    def _record_start(self, request: web.Request) -> RecordedRequest:
        headers = {name.lower(): value for name, value in request.headers.items()}
        return RecordedRequest(method=request.method, path=request.path, headers=headers)

    def _record(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(recorded)

    async def _answer(
        self, request: web.Request, recorded: RecordedRequest, kind: str
    ) -> web.StreamResponse:
        try:
            self._check_auth(recorded)
            if kind == "image_generation" and not isinstance(recorded.json, Mapping):
                raise ApiError(
                    400,
                    "We could not parse the JSON body of your request. The OpenAI API expects "
                    "a JSON payload.",
                )
            if kind == "image_edit" and not recorded.part_names:
                raise ApiError(
                    400,
                    f"Invalid Content-Type header ({request.content_type}), expected "
                    "multipart/form-data.",
                )
            model = recorded.body.get("model")
            if model in self.shutdown_models:
                raise ApiError(
                    404,
                    f"The model `{model}` has been deprecated and is no longer available. "
                    "Use a newer model instead.",
                    code="model_not_found",
                )
            job = await asyncio.to_thread(_validate, kind, recorded.body, recorded.files)
            # Faults hit only requests that would otherwise succeed.
            fault = self._take_fault()
            if fault is not None and fault.kind == "timeout":
                await self._pause(float(fault.options.get("seconds", self.timeout_seconds)))
                fault = None
            error = _fault_error(fault, job) if fault is not None else None
            if error is not None:
                raise error
        except ApiError as error:
            await self._pause(self.latency)
            return self._with_id(error.response())
        if job.stream:
            return await self._stream(request, job, fault)
        await self._pause(self.latency)
        if fault is not None and fault.kind == "malformed":
            return self._with_id(
                web.Response(
                    status=200,
                    body=b'{"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgo',
                    content_type="application/json",
                )
            )
        if fault is not None and fault.kind == "cut_stream":
            request.transport.close()  # type: ignore[union-attr]
            return web.Response()
        images = [await self._final_b64(job) for _ in range(job.n)]
        return self._with_id(
            web.json_response(
                {
                    "created": int(time.time()),
                    "data": [{"b64_json": image} for image in images],
                    "background": job.background,
                    "output_format": job.output_format,
                    "quality": job.quality,
                    "size": job.size,
                    "usage": _usage(job),
                }
            )
        )

    def _check_auth(self, recorded: RecordedRequest) -> None:
        header = recorded.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise _auth_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
            )
        if self.api_key is not None and header[7:].strip() != self.api_key:
            raise _auth_error("Incorrect API key provided.", "invalid_api_key")

    @staticmethod
    def _with_id(response: web.StreamResponse) -> web.StreamResponse:
        response.headers["x-request-id"] = (
            "req_" + hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:24]
        )
        return response

    async def _partial_b64(self, job: _Job, index: int) -> str:
        factor = 0.35 + 0.4 * index / max(1, job.partial_images)  # darker than the final image
        if job.input_images:
            return await asyncio.to_thread(
                _edited_b64, job.input_images[0], job.width, job.height, factor, job.output_format
            )
        colour = _shade(_prompt_colour(job.prompt), factor)
        return await asyncio.to_thread(_solid_b64, job.width, job.height, colour, job.output_format)

    async def _final_b64(self, job: _Job) -> str:
        if job.input_images:
            return await asyncio.to_thread(
                _edited_b64, job.input_images[0], job.width, job.height, 1.0, job.output_format
            )
        colour = _prompt_colour(job.prompt)
        return await asyncio.to_thread(_solid_b64, job.width, job.height, colour, job.output_format)

    async def _stream(
        self, request: web.Request, job: _Job, fault: Fault | None
    ) -> web.StreamResponse:
        try:
            return await self._write_events(request, job, fault)
        except ConnectionResetError:
            # The client walked away mid-stream (cancelled, timed out): nothing to answer.
            return web.Response()

    async def _write_events(
        self, request: web.Request, job: _Job, fault: Fault | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        self._with_id(response)
        await response.prepare(request)
        echo = {
            "background": job.background,
            "output_format": job.output_format,
            "quality": job.quality,
            "size": job.size,
        }
        fault_kind = fault.kind if fault is not None else None
        for _ in range(job.n):
            # A cut or broken stream still sends one preview first, like a real mid-flight failure.
            partials = max(job.partial_images, 1) if fault_kind else job.partial_images
            for index in range(partials):
                await self._pause(self.latency)
                event_type = f"{job.kind}.partial_image"
                if fault_kind == "malformed":
                    await response.write(
                        # A data line cut in the middle of its JSON.
                        f'event: {event_type}\ndata: {{"type": "{event_type}", "b64_'.encode()
                        + b'json": "iVBOR\n\n'
                    )
                    return await self._hang_up(request, response)
                payload = {
                    "type": event_type,
                    "b64_json": await self._partial_b64(job, index),
                    "partial_image_index": index,
                    "created_at": int(time.time()),
                    **echo,
                }
                await response.write(_sse(event_type, payload))
                if fault_kind == "cut_stream":
                    if fault.options.get("clean"):  # a gateway that ends the body politely
                        await response.write_eof()
                        return response
                    return await self._hang_up(request, response)
                if fault_kind == "stream_error":
                    await response.write(
                        _sse(
                            "error",
                            {
                                "error": {
                                    "message": "The image generation failed. Please try again.",
                                    "type": "server_error",
                                    "param": None,
                                    "code": "image_generation_failed",
                                }
                            },
                        )
                    )
                    await response.write_eof()
                    return response
            await self._pause(self.latency)
            event_type = f"{job.kind}.completed"
            payload = {
                "type": event_type,
                "b64_json": await self._final_b64(job),
                "created_at": int(time.time()),
                "usage": _usage(job),
                **echo,
            }
            await response.write(_sse(event_type, payload))
        await response.write_eof()
        return response

    @staticmethod
    async def _hang_up(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Drop the connection mid-body: the client sees a truncated chunked stream."""
        transport = request.transport
        if transport is not None:
            transport.close()
        return response
