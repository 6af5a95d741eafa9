"""How an engine is called: the request, the events an engine streams, and its typed errors.

Every engine takes an `EngineRequest` and returns an async iterator of events. A request for
`n` images has slots `0..n-1`; each slot streams `Progress` and `Partial` events and ends with
exactly one `Finished`, unless the run raises an `EngineError`. Nothing else in the project
invents engine event names or error classes: they all live here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "AuthenticationFailed",
    "Engine",
    "EngineError",
    "EngineEvent",
    "EngineRequest",
    "Finished",
    "InvalidRequest",
    "ModelUnavailable",
    "Partial",
    "PolicyRefusal",
    "Progress",
    "QuotaExhausted",
    "TransientError",
]


@dataclass(frozen=True)
class EngineRequest:
    """One call to an engine: what to draw, at which size, and (for edits) from what."""

    model: str  # the API model id, e.g. "gpt-image-1-mini"
    prompt: str
    width: int
    height: int
    quality: str
    n: int = 1
    seed: int = 0
    # subject / frame / lighting / style / finish; only the sketch engine reads it.
    # Left out of the hash because a dict is unhashable; equality still compares it.
    brief: Mapping[str, str] = field(default_factory=dict, hash=False)
    partial_images: int = 2
    image: bytes | None = None  # edit source, PNG
    mask: bytes | None = None  # PNG RGBA; alpha 0 marks the area to edit (OpenAI's convention)
    references: tuple[bytes, ...] = ()  # extra input images, sent after the source
    input_fidelity: str | None = None
    background: str | None = None

    @property
    def is_edit(self) -> bool:
        """True when the request changes a source image rather than drawing from scratch."""
        return self.image is not None

    @property
    def size(self) -> str:
        """The size as the API spells it, e.g. "1024x1536"."""
        return f"{self.width}x{self.height}"


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far one slot has come; `fraction` runs from 0 to 1 within that slot."""

    slot: int
    fraction: float
    message: str


@dataclass(frozen=True)
class Partial:
    """A preview of one slot (PNG or JPEG bytes); a later preview supersedes an earlier one."""

    slot: int
    index: int
    image: bytes


@dataclass(frozen=True)
class Finished:
    """The final image of one slot (PNG bytes) and, when the engine reports it, token usage."""

    slot: int
    image: bytes
    width: int
    height: int
    usage: dict | None = None


# A plain union (not a `type` alias) so `isinstance(event, EngineEvent)` works.
EngineEvent = Progress | Partial | Finished


# --- errors -------------------------------------------------------------------------------


class EngineError(Exception):
    """A failed engine call. `message` is shown to the user; `detail` is for logs only."""

    default_code = "engine_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class TransientError(EngineError):
    """A hiccup worth retrying later: rate limit, server error, timeout, cut-off stream."""

    default_code = "transient"
    retryable = True


class PolicyRefusal(EngineError):
    """The service refused the brief under its content policy; retrying unchanged is pointless."""

    default_code = "policy_refusal"


class InvalidRequest(EngineError):
    """The service rejected a parameter (size, quality, image format...)."""

    default_code = "invalid_request"


class ModelUnavailable(EngineError):
    """The model does not exist or has been shut down; pick its successor instead."""

    default_code = "model_unavailable"


class QuotaExhausted(EngineError):
    """The account is out of quota or billing failed; retrying would only fail again."""

    default_code = "quota_exhausted"


class AuthenticationFailed(EngineError):
    """The API key is missing, wrong, or not allowed to use this model."""

    default_code = "authentication_failed"


class Engine(Protocol):
    """What the studio needs from an engine: a name and a streaming `run`."""

    name: str

    def run(self, request: EngineRequest) -> AsyncIterator[EngineEvent]:
        """Stream the events of one request (implemented as an async generator)."""
        ...
