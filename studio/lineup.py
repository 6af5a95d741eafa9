"""Which models this studio can use today: the registry, the configured engines,
the calendar and the models the API has told us are gone."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone

from .catalog import Lifecycle, ModelSpec, registry
from .models import ModelOutage


def today() -> date:
    return timezone.localdate()


def configured_engines() -> frozenset[str]:
    engines = {"sketch"}
    if settings.OPENAI_API_KEY:
        engines.add("openai")
    return frozenset(engines)


def unavailable() -> frozenset[str]:
    return frozenset(ModelOutage.objects.values_list("model", flat=True))


def mark_unavailable(key: str, reason: str) -> None:
    """The API said the model does not exist: stop offering it until an operator clears it."""
    ModelOutage.objects.update_or_create(model=key, defaults={"reason": reason[:2000]})


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    lifecycle: Lifecycle
    engine_ready: bool

    @property
    def selectable(self) -> bool:
        return self.lifecycle.usable and self.engine_ready

    @property
    def note(self) -> str:
        if not self.engine_ready:
            return "Needs an OpenAI API key on the server."
        return self.lifecycle.message


def choices(gone: frozenset[str] | None = None) -> list[ModelChoice]:
    gone = unavailable() if gone is None else gone
    engines, day = configured_engines(), today()
    reg = registry()
    return [
        ModelChoice(spec, reg.lifecycle(spec, day, gone), spec.engine in engines)
        for spec in reg.all()
    ]


def default_model(gone: frozenset[str] | None = None) -> ModelSpec:
    gone = unavailable() if gone is None else gone
    return registry().default(configured_engines(), today(), gone)


def check_usable(spec: ModelSpec, gone: frozenset[str] | None = None) -> str | None:
    """Why this model can't take a job now, or None if it can."""
    if spec.engine not in configured_engines():
        return (
            f"{spec.label} needs an OpenAI API key on the server; "
            "this studio runs offline with the sketch engine."
        )
    life = registry().lifecycle(spec, today(), unavailable() if gone is None else gone)
    return None if life.usable else life.message
