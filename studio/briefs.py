"""How a brief becomes a prompt.

A brief is five short fields. `compose_prompt()` is the only place that turns them into
prompt text; `check_brief()` points out what is missing or vague before credits are spent,
without ever rewriting what the designer wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

FIELDS = ("subject", "frame", "lighting", "style", "finish")

# The order parts appear in the prompt. The subject comes first so the model knows what
# dominates the frame; lighting comes next because it colours every later decision;
# composition, style and finish refine what is already there.
PROMPT_ORDER = ("subject", "lighting", "frame", "style", "finish")

SEVERITIES = ("error", "warning", "info")

# Findings about the whole composed prompt rather than one field.
PROMPT_FIELD = "prompt"

SUBJECT_SOFT_LIMIT = 200


@dataclass(frozen=True)
class Brief:
    """What the designer asked for, one field per decision."""

    subject: str
    frame: str = ""
    lighting: str = ""
    style: str = ""
    finish: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Brief:
        """Build a brief from form data or JSON; unknown keys are ignored, missing ones empty."""
        values = {}
        for name in FIELDS:
            value = data.get(name)
            values[name] = "" if value is None else str(value).strip()
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        """The five fields as a plain dict (stored with each version)."""
        return asdict(self)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _sentence(text: str) -> str:
    """One brief part as a sentence: collapsed, no trailing punctuation, capitalised, '.'."""
    text = _collapse(text).rstrip(" .,;:!?")
    if not text:
        return ""
    return text[0].upper() + text[1:] + "."


def compose_prompt(brief: Brief) -> str:
    """The prompt sent to the engine: subject, lighting, frame, style, finish."""
    parts = (_sentence(getattr(brief, name)) for name in PROMPT_ORDER)
    return " ".join(part for part in parts if part)


def compose_edit_prompt(change: str, keep: str = "") -> str:
    """The prompt of a masked edit: what changes, and what must stay as it is."""
    change_text = _sentence(change)
    if not change_text:
        raise ValueError("A masked edit needs a description of what changes.")
    # Models redraw the whole picture even with a mask, so we always say what stays;
    # without the designer's own words we still ask for the rest to be left alone.
    keep_text = _sentence(keep) or "Everything outside the edited area."
    return f"Change: {change_text} Keep unchanged: {keep_text}"


@dataclass(frozen=True)
class Finding:
    """One remark of the brief checker."""

    field: str
    severity: str  # "error" | "warning" | "info"
    code: str
    hint: str


# Words that praise an image without describing anything a camera could see.
# "cool" is left alone when it names a colour temperature ("cool tones").
_VAGUE_PATTERNS = (
    "nice",
    "beautiful",
    "amazing",
    "good",
    r"cool(?!\s+(?:tones?|colou?rs?|light|lighting|palette|hues?|blues?|greys?|grays?|white))",
    "awesome",
    "stunning",
    "interesting",
    "epic",
    "gorgeous",
    "great",
    "incredible",
    "perfect",
    "lovely",
    "wonderful",
    "breathtaking",
    "fantastic",
    r"high[\s-]quality",
    r"best[\s-]quality",
    "masterpiece",
    r"award[\s-]winning",
)
_VAGUE_RE = re.compile(r"\b(?:" + "|".join(_VAGUE_PATTERNS) + r")\b", re.IGNORECASE)

# Two ideas in one subject, kept deliberately simple (it is a hint, not a parser):
# - a semicolon, " and also " or " plus " between two parts;
# - two sentences ("A cat. A spaceship battle.");
# - the subject opens with a short article-led noun phrase joined by " and " to another
#   article-led phrase ("a cat and a spaceship battle"). Phrases such as
#   "a person at a café with a laptop" have no " and " and pass.
_SPLIT_RE = re.compile(r";|\band also\b|\bplus\b", re.IGNORECASE)
_TWO_SENTENCES_RE = re.compile(r"[.!?]\s+\S")
_TWO_NOUN_PHRASES_RE = re.compile(
    r"^(?:a|an|the)\s+(?:\S+\s+){0,2}\S+\s+and\s+(?:a|an|the)\s+\S", re.IGNORECASE
)

_MISSING_HINTS = {
    "lighting": "Say where the light comes from and how it feels, e.g. low sun from the left.",
    "frame": "Give the shot size and where the subject sits, e.g. close-up, centred.",
    "style": "Name a medium or look, e.g. 35 mm photo, watercolour, flat vector.",
}


def _has_two_concepts(subject: str) -> bool:
    text = _collapse(subject).rstrip(" .!?")
    return bool(
        _SPLIT_RE.search(text) or _TWO_SENTENCES_RE.search(text) or _TWO_NOUN_PHRASES_RE.match(text)
    )


def _vague_words(text: str) -> list[str]:
    found: list[str] = []
    for match in _VAGUE_RE.finditer(text):
        word = _collapse(match.group(0).lower())
        if word not in found:
            found.append(word)
    return found


def check_brief(brief: Brief, *, max_prompt_chars: int = 32000) -> list[Finding]:
    """What is missing or vague in a brief, most important first; never changes the brief."""
    findings: list[Finding] = []

    if not brief.subject.strip():
        findings.append(
            Finding(
                "subject",
                "error",
                "missing_subject",
                "Name the one thing that should dominate the picture.",
            )
        )
    else:
        if _has_two_concepts(brief.subject):
            findings.append(
                Finding(
                    "subject",
                    "warning",
                    "multiple_concepts",
                    "This reads like two ideas; keep the main one and try the other "
                    "in its own image.",
                )
            )
        if len(_collapse(brief.subject)) > SUBJECT_SOFT_LIMIT:
            findings.append(
                Finding(
                    "subject",
                    "info",
                    "subject_too_long",
                    "Keep the subject to what dominates the frame; move details to the "
                    "other fields.",
                )
            )

    if not brief.lighting.strip():
        findings.append(
            Finding("lighting", "warning", "missing_lighting", _MISSING_HINTS["lighting"])
        )
    if not brief.frame.strip():
        findings.append(Finding("frame", "warning", "missing_frame", _MISSING_HINTS["frame"]))
    if not brief.style.strip():
        findings.append(Finding("style", "info", "missing_style", _MISSING_HINTS["style"]))

    for name in FIELDS:
        words = _vague_words(getattr(brief, name))
        if words:
            quoted = [f"“{word}”" for word in words]
            listed = (
                quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
            )
            findings.append(
                Finding(
                    name,
                    "warning",
                    "vague_words",
                    f"Replace {listed} with something the model can draw: "
                    "a colour, a material, a light, a distance.",
                )
            )

    length = len(compose_prompt(brief))
    if length > max_prompt_chars:
        findings.append(
            Finding(
                PROMPT_FIELD,
                "error",
                "too_long",
                f"The prompt has {length} characters; this model takes at most "
                f"{max_prompt_chars}. Shorten the longest field.",
            )
        )

    order = (*FIELDS, PROMPT_FIELD)
    # sorted() is stable, so findings of one field and severity keep the order above.
    return sorted(findings, key=lambda f: (order.index(f.field), SEVERITIES.index(f.severity)))


def has_blockers(findings: list[Finding]) -> bool:
    """True when a finding must be fixed before generating (an error)."""
    return any(f.severity == "error" for f in findings)


@dataclass(frozen=True)
class Preset:
    """A ready-made brief the designer can start from."""

    key: str
    title: str
    brief: Brief


# The four example briefs of the product brief, split into our fields.
PRESETS = (
    Preset(
        "cafe-laptop",
        "Café, working on a laptop",
        Brief("Person at a café with a laptop", lighting="Daylight", style="Casual, simple"),
    ),
    Preset(
        "product-white",
        "Product on plain white",
        Brief("Product on white background", lighting="Soft lighting", style="Clean, minimal"),
    ),
    Preset(
        "mountain-sunset",
        "Mountains at dusk",
        Brief("Mountain landscape at sunset", frame="Wide", style="Cinematic"),
    ),
    Preset(
        "fantasy-tavern",
        "Tavern character",
        Brief("Character in a fantasy tavern", lighting="Firelight", style="Illustration style"),
    ),
)


def get_preset(key: str) -> Preset:
    """The preset with this key; KeyError if there is none."""
    for preset in PRESETS:
        if preset.key == key:
            return preset
    raise KeyError(key)
