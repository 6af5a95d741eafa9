"""The model registry: every image model the studio knows, in one table.

The UI, the API and the engines read models from here and nowhere else. Each entry says
which engine runs it, which tiers it serves, what sizes and qualities it takes, what it
costs in credits, and where it is in its life (available, deprecated, retired). Operators
can change the table without touching code through `settings.STUDIO_MODELS`.

API facts and prices come from the team's research note on the OpenAI Images API
(openai-images.md, cited below as "ref §n"); [official] / [mirror] / [3rd] mark the source kind.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

ENGINES = ("openai", "sketch")
TIER_KEYS = ("draft", "balanced", "best", "editing")
CAPABILITIES = frozenset({"generate", "edit", "references", "streaming", "transparent"})
STATUSES = ("available", "deprecated", "retired")

# One credit is worth half a US cent; prices are divided by it and rounded up so a job
# never costs the team less than it costs us.
CREDIT_USD = Decimal("0.005")

# Aspect ratios offered in the form, as (width, height) proportions.
RATIOS: dict[str, tuple[int, int]] = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16)}


def _proportions(ratio: str | tuple[int, int]) -> tuple[int, int]:
    if isinstance(ratio, str):
        try:
            return RATIOS[ratio]
        except KeyError:
            raise ValueError(f"Unknown aspect ratio {ratio!r}.") from None
    width, height = ratio
    divisor = math.gcd(width, height)
    return width // divisor, height // divisor


# --- Size rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedSizes:
    """A model that only takes a few exact sizes (the GPT Image 1 family, ref §1.1)."""

    sizes: tuple[tuple[int, int], ...] = ((1024, 1024), (1536, 1024), (1024, 1536))

    def native_size(self, ratio: str | tuple[int, int]) -> tuple[int, int]:
        """The allowed size whose shape is closest to the ratio."""
        a, b = _proportions(ratio)
        target = math.log(a / b)
        return min(self.sizes, key=lambda size: abs(math.log(size[0] / size[1]) - target))

    def allows(self, width: int, height: int) -> bool:
        """True if the API accepts exactly this size."""
        return (width, height) in self.sizes


@dataclass(frozen=True)
class FreeSizes:
    """A model that takes any size within limits (gpt-image-2 and later, ref §1.2)."""

    multiple: int = 16
    min_ratio: float = 1 / 3
    max_ratio: float = 3.0
    max_edge: int = 3840
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400
    # The canvas a ratio is fitted into: the same 1024 / 1536 frame as the GPT Image 1
    # family, so a 16:9 image has the same pixels whichever model drew it.
    square_edge: int = 1024
    long_edge: int = 1536

    def native_size(self, ratio: str | tuple[int, int]) -> tuple[int, int]:
        """The largest exact-ratio size inside the standard canvas that the API accepts."""
        a, b = _proportions(ratio)
        if a > b:
            box = (self.long_edge, self.square_edge)
        elif a < b:
            box = (self.square_edge, self.long_edge)
        else:
            box = (self.square_edge, self.square_edge)
        # Both sides a*k and b*k must be multiples of `multiple`.
        step = math.lcm(
            self.multiple // math.gcd(self.multiple, a), self.multiple // math.gcd(self.multiple, b)
        )
        k = min(box[0] // a, box[1] // b) // step * step
        size = (a * k, b * k)
        if k == 0 or not self.allows(*size):
            raise ValueError(f"No size of ratio {a}:{b} fits this model's limits.")
        return size

    def allows(self, width: int, height: int) -> bool:
        """True if the API accepts this size."""
        return (
            width % self.multiple == 0
            and height % self.multiple == 0
            and max(width, height) <= self.max_edge
            and self.min_ratio <= width / height <= self.max_ratio
            and self.min_pixels <= width * height <= self.max_pixels
        )


SizeRule = FixedSizes | FreeSizes


@dataclass(frozen=True)
class SizePlan:
    """The size asked of the engine and the size delivered after an optional centre crop."""

    requested: tuple[int, int]
    final: tuple[int, int]

    @property
    def cropped(self) -> bool:
        return self.requested != self.final

    @property
    def api_size(self) -> str:
        """The `size` parameter as the API spells it, e.g. "1536x1024"."""
        return f"{self.requested[0]}x{self.requested[1]}"


def _centre_crop(size: tuple[int, int], a: int, b: int) -> tuple[int, int]:
    width, height = size
    if width * b > height * a:  # too wide for the ratio: keep the height
        return height * a // b, height
    return width, width * b // a


# --- Models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Everything the studio needs to know about one model."""

    key: str
    label: str
    engine: str  # "openai" | "sketch"
    api_model: str
    # The first tier is the model's home; it may also be listed under others ("editing").
    tiers: tuple[str, ...]
    capabilities: frozenset[str]
    sizes: SizeRule
    qualities: tuple[str, ...]
    # quality -> (credits for a square image, credits for a non-square image)
    credits: dict[str, tuple[int, int]] = field(hash=False)
    best_for: str
    status: str = "available"  # "available" | "deprecated" | "retired"
    shutdown: date | None = None
    successor: str | None = None
    max_prompt_chars: int = 32000
    # Extra reference images an edit may send besides the source image.
    max_references: int = 15
    supports_input_fidelity: bool = False
    partial_images: int = 3
    # Credits added once per job for each input image of an edit (source and references):
    # the API bills input images as tokens on top of the per-image price (ref §6).
    input_image_credits: int = 1
    notes: str = ""

    @property
    def tier(self) -> str:
        """The model's home tier."""
        return self.tiers[0]

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def priciest_quality(self) -> str:
        """The quality with the highest credits; what "auto" is charged as."""
        return max(self.credits, key=lambda quality: self.credits[quality])


def _usd(square: str, other: str) -> tuple[int, int]:
    """Credits for a per-image price in dollars (square, non-square), rounded up."""

    def credits(price: str) -> int:
        return int((Decimal(price) / CREDIT_USD).to_integral_value(rounding=ROUND_CEILING))

    return credits(square), credits(other)


def _tokens(square: int, other: int, usd_per_million: str = "30") -> tuple[int, int]:
    """Credits estimated from output image tokens at a price per million tokens."""
    rate = Decimal(usd_per_million) / 1_000_000
    return _usd(str(square * rate), str(other * rate))


# Estimate for the 2.5 / 2.6 models, which publish token prices only ($30 per 1M image
# output tokens, ref §6): gpt-image-1's output token counts for low/medium/high, and our
# own guess of twice / four times the high count for "xhigh" / "max".
_TWO_FIVE_CREDITS = {
    "low": _tokens(272, 408),
    "medium": _tokens(1056, 1584),
    "high": _tokens(4160, 6240),
    "xhigh": _tokens(8320, 12480),
    "max": _tokens(16640, 24960),
}

_GPT = frozenset({"generate", "edit", "references", "streaming"})
_GPT_TRANSPARENT = _GPT | {"transparent"}
_QUALITIES = ("low", "medium", "high", "auto")
_QUALITIES_2_5 = ("low", "medium", "high", "xhigh", "max", "auto")

_THIRD_PARTY_2_5 = (
    "[3rd] Model ids, the xhigh/max qualities and token prices come from third-party "
    "sources (resellers, OpenRouter; ref §1.2), not checked against an OpenAI page. "
    "Credits are our estimate from token prices, not a published per-image price. "
    "Size rules assumed equal to gpt-image-2's."
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="gpt-image-2.6-flare",
        label="GPT Image 2.6 Flare",
        engine="openai",
        api_model="gpt-image-2.6-flare",
        tiers=("draft",),
        capabilities=_GPT,
        sizes=FreeSizes(),
        qualities=_QUALITIES_2_5,
        credits=_TWO_FIVE_CREDITS,
        best_for="The quickest current model: try many ideas in little time.",
        notes="Released 2026-11-04 per resellers; low quality in about 6-12 s [3rd]. "
        + _THIRD_PARTY_2_5,
    ),
    ModelSpec(
        key="gpt-image-2.6-sunburst",
        label="GPT Image 2.6 Sunburst",
        engine="openai",
        api_model="gpt-image-2.6-sunburst",
        tiers=("best",),
        capabilities=_GPT,
        sizes=FreeSizes(),
        qualities=_QUALITIES_2_5,
        credits=_TWO_FIVE_CREDITS,
        best_for="The most detailed current model, for final campaign images.",
        notes="Released 2026-11-04 per resellers [3rd]. " + _THIRD_PARTY_2_5,
    ),
    ModelSpec(
        key="gpt-image-2.5-flare",
        label="GPT Image 2.5 Flare",
        engine="openai",
        api_model="gpt-image-2.5-flare",
        tiers=("draft",),
        capabilities=_GPT,
        sizes=FreeSizes(),
        qualities=_QUALITIES_2_5,
        credits=_TWO_FIVE_CREDITS,
        best_for="Fast drafts in any aspect ratio.",
        notes=_THIRD_PARTY_2_5,
    ),
    ModelSpec(
        key="gpt-image-2.5-sunburst",
        label="GPT Image 2.5 Sunburst",
        engine="openai",
        api_model="gpt-image-2.5-sunburst",
        tiers=("balanced",),
        capabilities=_GPT,
        sizes=FreeSizes(),
        qualities=_QUALITIES_2_5,
        credits=_TWO_FIVE_CREDITS,
        best_for="Dependable finished images; OpenAI's replacement for GPT Image 1.",
        notes="OpenRouter reports a median of about 19 s [3rd]. " + _THIRD_PARTY_2_5,
    ),
    ModelSpec(
        key="gpt-image-2",
        label="GPT Image 2",
        engine="openai",
        api_model="gpt-image-2",
        tiers=("balanced", "editing"),
        capabilities=_GPT,
        sizes=FreeSizes(),
        qualities=_QUALITIES,
        # ref §6 prices: square 0.006/0.053/0.211, portrait or landscape 0.005/0.041/0.165.
        credits={
            "low": _usd("0.006", "0.005"),
            "medium": _usd("0.053", "0.041"),
            "high": _usd("0.211", "0.165"),
        },
        best_for="Any aspect ratio natively, and edits that leave the rest of the image alone.",
        notes="Sizes, qualities and input fidelity (always high, so the parameter is omitted) "
        "from OpenAI's SDK and model page [official]. Per-image prices from a mirror of the "
        "guide [mirror]; non-square prices are for 1536x1024 / 1024x1536. Transparent "
        "background is only a preview and reported refused [3rd], so it is not offered. "
        "Better at keeping pixels outside a mask than the 1.x models [3rd forum report].",
    ),
    ModelSpec(
        key="gpt-image-1.5",
        label="GPT Image 1.5",
        engine="openai",
        api_model="gpt-image-1.5",
        tiers=("best", "editing"),
        capabilities=_GPT_TRANSPARENT,
        sizes=FixedSizes(),
        qualities=_QUALITIES,
        credits={
            "low": _usd("0.009", "0.013"),
            "medium": _usd("0.034", "0.05"),
            "high": _usd("0.133", "0.20"),
        },
        best_for="Polished hero images, and edits that must keep faces and logos intact.",
        status="deprecated",
        shutdown=date(2026, 12, 1),
        successor="gpt-image-2.6-sunburst",
        supports_input_fidelity=True,
        notes="Shutdown date from OpenAI's deprecations page [official]. Prices from a guide "
        "mirror and resellers [mirror/3rd]; some list medium non-square at $0.051.",
    ),
    ModelSpec(
        key="gpt-image-1-mini",
        label="GPT Image 1 Mini",
        engine="openai",
        api_model="gpt-image-1-mini",
        tiers=("draft", "editing"),
        capabilities=_GPT_TRANSPARENT,
        sizes=FixedSizes(),
        qualities=_QUALITIES,
        credits={
            "low": _usd("0.005", "0.006"),
            "medium": _usd("0.011", "0.015"),
            "high": _usd("0.036", "0.052"),
        },
        best_for="Cheap, quick drafts when you want many tries.",
        status="deprecated",
        shutdown=date(2026, 12, 1),
        successor="gpt-image-2.6-flare",
        notes="Prices and shutdown date from OpenAI's model and deprecations pages [official]. "
        "Does not accept input_fidelity. An older copy of the deprecations page named 2.5 as "
        "successor.",
    ),
    ModelSpec(
        key="gpt-image-1",
        label="GPT Image 1",
        engine="openai",
        api_model="gpt-image-1",
        tiers=("balanced", "editing"),
        capabilities=_GPT_TRANSPARENT,
        sizes=FixedSizes(),
        qualities=_QUALITIES,
        credits={
            "low": _usd("0.011", "0.016"),
            "medium": _usd("0.042", "0.063"),
            "high": _usd("0.167", "0.25"),
        },
        best_for="Everyday finished images at a moderate price.",
        status="retired",
        shutdown=date(2026, 10, 23),
        successor="gpt-image-2.5-sunburst",
        supports_input_fidelity=True,
        notes="Prices and shutdown date from OpenAI's model page [official]. Calls now fail "
        "with model_not_found.",
    ),
    ModelSpec(
        key="sketch",
        label="Sketch (offline study)",
        engine="sketch",
        api_model="sketch",
        tiers=("draft", "editing"),
        capabilities=frozenset({"generate", "edit", "references", "streaming"}),
        sizes=FreeSizes(),
        qualities=("low", "medium", "high"),
        credits={"low": (1, 1), "medium": (1, 1), "high": (1, 1)},
        best_for="Not an image model: an offline layout study of your brief's framing and "
        "light, to check before spending on a real model.",
        max_references=4,
        input_image_credits=0,
        notes="Built into the studio; no network and no model weights. Draws a deterministic "
        "composition study from the brief.",
    ),
)


# --- Tiers and the model advisor ---------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    key: str
    label: str
    question: str


TIERS: dict[str, Tier] = {
    "draft": Tier("draft", "Draft", "Exploring lots of ideas quickly and cheaply?"),
    "balanced": Tier("balanced", "Balanced", "Need a finished image at a fair price?"),
    "best": Tier("best", "Best", "Is this the final image, where detail matters most?"),
    "editing": Tier("editing", "Editing", "Changing part of an image you already like?"),
}


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    why: str
    tier: str


SCENARIOS: dict[str, Scenario] = {
    "speed": Scenario(
        "speed",
        "Speed and low cost",
        "Cheap, fast images are enough to judge an idea's framing and mood.",
        "draft",
    ),
    "balanced": Scenario(
        "balanced",
        "Balanced",
        "Good-looking results without paying for the top model on every try.",
        "balanced",
    ),
    "quality": Scenario(
        "quality",
        "Best quality",
        "For the image you will ship, when fine detail is worth the wait and the credits.",
        "best",
    ),
    "editing": Scenario(
        "editing",
        "Editing",
        "These models redraw the area you mark and disturb the rest of the picture least.",
        "editing",
    ),
}


# --- Sizes and cost -----------------------------------------------------------------------


def plan_size(spec: ModelSpec, ratio: str) -> SizePlan:
    """What to ask the model for, and what to deliver after cropping to the exact ratio."""
    a, b = _proportions(ratio)
    requested = spec.sizes.native_size((a, b))
    # A model that cannot draw the ratio draws the nearest shape; we crop the centre.
    return SizePlan(requested=requested, final=_centre_crop(requested, a, b))


def cost(spec: ModelSpec, quality: str, ratio: str, n: int, *, references: int = 0) -> int:
    """Credits for `n` images; `references` counts the input images of an edit (source included).

    Each image costs the model's square or non-square price for the size actually
    generated; "auto" is charged as the priciest quality because the API may pick it.
    Each input image of an edit adds `spec.input_image_credits` once per job.
    """
    if quality not in spec.qualities:
        raise ValueError(f"{spec.label} has no {quality!r} quality.")
    if n < 1:
        raise ValueError("At least one image is needed.")
    if not 0 <= references <= spec.max_references + 1:
        raise ValueError(f"{spec.label} takes at most {spec.max_references + 1} input images.")
    priced = spec.priciest_quality if quality == "auto" else quality
    width, height = plan_size(spec, ratio).requested
    square, other = spec.credits[priced]
    per_image = square if width == height else other
    return per_image * n + references * spec.input_image_credits


# --- Lifecycle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    """Where a model is in its life on a given day, and what to tell the user."""

    status: str
    shutdown: date | None
    successor: str | None
    usable: bool
    message: str


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


class UnknownModel(KeyError):
    """No model with this key in the registry."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class NoUsableModel(LookupError):
    """No model of the wanted kind can run today."""


class Registry:
    """The models in table order, with the operator's configuration applied."""

    def __init__(self, models: Iterable[ModelSpec], default: str | None = None) -> None:
        self._models = {spec.key: spec for spec in models}
        self.default_key = default

    def get(self, key: str) -> ModelSpec:
        try:
            return self._models[key]
        except KeyError:
            raise UnknownModel(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._models

    def all(self) -> tuple[ModelSpec, ...]:
        return tuple(self._models.values())

    def for_tier(self, tier: str) -> tuple[ModelSpec, ...]:
        """Models listed under a tier, in table order (retired ones included)."""
        if tier not in TIER_KEYS:
            raise ValueError(f"Unknown tier {tier!r}.")
        return tuple(spec for spec in self._models.values() if tier in spec.tiers)

    def label(self, key: str) -> str:
        return self._models[key].label if key in self._models else key

    def lifecycle(
        self, spec: ModelSpec, today: date, unavailable: frozenset[str] = frozenset()
    ) -> Lifecycle:
        """The model's status today; past its shutdown date or refused by the API is retired."""
        successor = self.label(spec.successor) if spec.successor else None
        instead = f" Use {successor} instead." if successor else " Pick another model."
        shutdown = spec.shutdown

        if spec.key in unavailable:
            message = "The provider no longer offers this model." + instead
            return Lifecycle("retired", shutdown, spec.successor, False, message)
        # A model is gone from its shutdown day on.
        if spec.status == "retired" or (shutdown is not None and today >= shutdown):
            when = f"Retired on {_day(shutdown)}." if shutdown else "Retired."
            return Lifecycle("retired", shutdown, spec.successor, False, when + instead)
        if spec.status == "deprecated" or shutdown is not None:
            when = f"Shuts down on {_day(shutdown)}" if shutdown else "Being phased out"
            advice = f"; move to {successor}." if successor else "; pick another model soon."
            return Lifecycle("deprecated", shutdown, spec.successor, True, when + advice)
        return Lifecycle("available", None, spec.successor, True, "")

    def default(
        self, engines: Iterable[str], today: date, unavailable: frozenset[str] = frozenset()
    ) -> ModelSpec:
        """The model the form starts on: the configured one, else the live draft model."""
        engines = set(engines)

        def usable(spec: ModelSpec) -> bool:
            return spec.engine in engines and self.lifecycle(spec, today, unavailable).usable

        if self.default_key is not None:
            configured = self.get(self.default_key)
            if usable(configured):
                return configured
        drafts = [spec for spec in self.for_tier("draft") if usable(spec)]
        if not drafts:
            raise NoUsableModel(f"No draft model can run with engines {sorted(engines)}.")
        # sorted() is stable: table order within each group.
        drafts.sort(key=lambda spec: self.lifecycle(spec, today, unavailable).status != "available")
        return drafts[0]


# --- Configuration ------------------------------------------------------------------------

_SPEC_FIELDS = {f.name for f in fields(ModelSpec)} - {"key"}
# What a new model must say about itself when it is not copied from another with "like".
_REQUIRED_FOR_NEW = ("engine", "tiers", "qualities", "credits")


def _improperly_configured(message: str) -> Exception:
    from django.core.exceptions import ImproperlyConfigured

    return ImproperlyConfigured(f"STUDIO_MODELS: {message}")


def _size_rule(value: Any) -> SizeRule:
    if isinstance(value, FixedSizes | FreeSizes):
        return value
    if value == "fixed":
        return FixedSizes()
    if value == "free":
        return FreeSizes()
    if isinstance(value, Mapping):
        options = dict(value)
        kind = options.pop("kind", None)
        if kind == "fixed":
            return FixedSizes(sizes=tuple(tuple(size) for size in options.get("sizes", ())))
        if kind == "free":
            return FreeSizes(**options)
    raise _improperly_configured(f"sizes must be 'fixed', 'free' or a size rule, not {value!r}")


def _coerce(key: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Turn settings values (lists, strings) into the types a ModelSpec holds."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "like":
            continue
        if name == "tier":
            name, value = "tiers", (value,)
        if name not in _SPEC_FIELDS:
            raise _improperly_configured(f"model {key!r} has an unknown field {name!r}")
        if name == "tiers":
            value = tuple(value)
        elif name == "capabilities":
            value = frozenset(value)
        elif name == "qualities":
            value = tuple(value)
        elif name == "credits":
            value = {quality: (int(pair[0]), int(pair[1])) for quality, pair in value.items()}
        elif name == "sizes":
            value = _size_rule(value)
        elif name == "shutdown" and isinstance(value, str):
            value = date.fromisoformat(value)
        values[name] = value
    return values


def _new_model(key: str, changes: Mapping[str, Any], table: Mapping[str, ModelSpec]) -> ModelSpec:
    values = _coerce(key, changes)
    like = changes.get("like")
    if like is not None:
        if like not in table:
            raise _improperly_configured(f"model {key!r} is like unknown model {like!r}")
        # A copy inherits what the model can do, not the original's identity or lifecycle.
        base = replace(
            table[like],
            key=key,
            label=key,
            api_model=key,
            status="available",
            shutdown=None,
            successor=None,
            notes="Added by configuration.",
        )
        return replace(base, **values)
    missing = [name for name in _REQUIRED_FOR_NEW if name not in values]
    if missing:
        raise _improperly_configured(
            f"new model {key!r} needs {', '.join(missing)} (or 'like' to copy another model)"
        )
    defaults: dict[str, Any] = {
        "label": key,
        "api_model": key,
        "capabilities": frozenset({"generate"}),
        "sizes": FreeSizes(),
        "best_for": "",
        "notes": "Added by configuration.",
    }
    return ModelSpec(key=key, **(defaults | values))


def _validate(spec: ModelSpec) -> None:
    problems = []
    if spec.engine not in ENGINES:
        problems.append(f"engine {spec.engine!r} is not one of {ENGINES}")
    if not spec.tiers or not set(spec.tiers) <= set(TIER_KEYS):
        problems.append(f"tiers {spec.tiers!r} must be among {TIER_KEYS}")
    if not spec.capabilities <= CAPABILITIES:
        problems.append(f"unknown capabilities {sorted(spec.capabilities - CAPABILITIES)}")
    if spec.status not in STATUSES:
        problems.append(f"status {spec.status!r} is not one of {STATUSES}")
    priced = [quality for quality in spec.qualities if quality != "auto"]
    if not priced or set(priced) != set(spec.credits):
        problems.append("every quality except 'auto' needs credits, and only those")
    if problems:
        raise _improperly_configured(f"model {spec.key!r}: " + "; ".join(problems))


def build_registry(config: Mapping[str, Any] | None = None) -> Registry:
    """The code table with an operator's override applied (see `registry()`)."""
    config = config or {}
    unknown = set(config) - {"default", "models", "retire"}
    if unknown:
        raise _improperly_configured(f"unknown keys {sorted(unknown)}")

    table = {spec.key: spec for spec in MODELS}
    for key, changes in (config.get("models") or {}).items():
        if key in table:
            if "like" in changes:
                raise _improperly_configured(f"'like' only applies to new models, not {key!r}")
            table[key] = replace(table[key], **_coerce(key, changes))
        else:
            table[key] = _new_model(key, changes, table)
    for key in config.get("retire") or ():
        if key not in table:
            raise _improperly_configured(f"cannot retire unknown model {key!r}")
        table[key] = replace(table[key], status="retired")

    for spec in table.values():
        _validate(spec)
        if spec.successor is not None and spec.successor not in table:
            raise _improperly_configured(
                f"model {spec.key!r} has unknown successor {spec.successor!r}"
            )
    default = config.get("default")
    if default is not None and default not in table:
        raise _improperly_configured(f"default model {default!r} is not in the table")
    return Registry(table.values(), default=default)


@functools.cache
def registry() -> Registry:
    """The registry, built once from the code table and `settings.STUDIO_MODELS`.

    STUDIO_MODELS = {"default": key, "models": {key: {field: value, ...}}, "retire": [key]}
    changes fields of a listed model, adds a new one (give engine, tiers, qualities and
    credits, or "like": an existing key to copy), or retires one.
    """
    from django.conf import settings

    config = getattr(settings, "STUDIO_MODELS", {}) if settings.configured else {}
    return build_registry(config)


def reset_registry() -> None:
    """Forget the built registry so the next call reads settings again (for tests)."""
    registry.cache_clear()


def lifecycle(spec: ModelSpec, today: date, unavailable: frozenset[str] = frozenset()) -> Lifecycle:
    """The model's status on `today`, with a message naming its successor."""
    return registry().lifecycle(spec, today, unavailable)


def qualities_of(specs: Iterable[ModelSpec]) -> list[str]:
    """Every quality these models offer, each once, in the order the models list them."""
    return list(dict.fromkeys(quality for spec in specs for quality in spec.qualities))
