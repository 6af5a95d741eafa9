"""Which engine runs a model, built from settings: one instance per event loop, because
an async HTTP client's connection pool belongs to the loop it was made on."""

import asyncio

from django.conf import settings

from ..catalog import ModelSpec
from . import Engine

_engines: dict[tuple[str, int], Engine] = {}


def build(name: str) -> Engine:
    if name == "sketch":
        from .sketch import SketchEngine

        return SketchEngine(step_delay=settings.STUDIO_SKETCH_STEP_DELAY)
    if name == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.OPENAI_TIMEOUT,
            max_attempts=settings.OPENAI_MAX_ATTEMPTS,
            max_backoff=settings.OPENAI_MAX_BACKOFF,
        )
    raise ValueError(f"Unknown engine {name!r}")


def engine_for(spec: ModelSpec) -> Engine:
    key = (spec.engine, id(asyncio.get_running_loop()))
    if key not in _engines:
        _engines[key] = build(spec.engine)
    return _engines[key]


def reset() -> None:
    """Forget built engines (tests change settings between runs)."""
    _engines.clear()
