"""How a brief becomes a prompt, and what the brief checker says about it."""

import pytest

from studio.briefs import (
    FIELDS,
    PRESETS,
    Brief,
    Finding,
    check_brief,
    compose_edit_prompt,
    compose_prompt,
    get_preset,
    has_blockers,
)

COMPLETE = Brief(
    subject="A lighthouse on a rocky point",
    frame="Wide shot, lighthouse on the right third",
    lighting="Low sun from the left, long shadows",
    style="35 mm film photograph",
    finish="Fine grain, muted greens",
)


def codes(findings: list[Finding]) -> list[str]:
    return [finding.code for finding in findings]


# --- Brief -----------------------------------------------------------------------------


def test_from_mapping_strips_ignores_unknown_and_fills_missing():
    brief = Brief.from_mapping({"subject": "  A fox  ", "style": "ink\n", "colour": "red"})

    assert brief == Brief(subject="A fox", style="ink")
    assert brief.frame == brief.lighting == brief.finish == ""


def test_from_mapping_treats_none_as_empty():
    assert Brief.from_mapping({"subject": None}) == Brief(subject="")


def test_as_dict_round_trips():
    assert tuple(COMPLETE.as_dict()) == FIELDS
    assert Brief.from_mapping(COMPLETE.as_dict()) == COMPLETE


# --- compose_prompt --------------------------------------------------------------------


def test_compose_orders_subject_lighting_frame_style_finish():
    assert compose_prompt(COMPLETE) == (
        "A lighthouse on a rocky point. Low sun from the left, long shadows. "
        "Wide shot, lighthouse on the right third. 35 mm film photograph. "
        "Fine grain, muted greens."
    )


def test_compose_skips_empty_parts():
    brief = Brief("Mountain landscape at sunset", frame="Wide", style="Cinematic")

    assert compose_prompt(brief) == "Mountain landscape at sunset. Wide. Cinematic."


def test_compose_normalises_each_part():
    brief = Brief(
        subject="  a red   kite\nover a field!! ",
        lighting="overcast;",
        style="gouache...",
        finish="   ",
    )

    assert compose_prompt(brief) == "A red kite over a field. Overcast. Gouache."


def test_compose_keeps_capitals_after_the_first_letter():
    assert compose_prompt(Brief("iPhone on a desk")) == "IPhone on a desk."
    assert compose_prompt(Brief("café in Paris")) == "Café in Paris."


def test_compose_of_an_empty_brief_is_empty():
    assert compose_prompt(Brief("")) == ""


# --- compose_edit_prompt ---------------------------------------------------------------


def test_edit_prompt_names_change_and_what_stays():
    prompt = compose_edit_prompt("replace the mug with a glass of water", "the hands, the table.")

    assert prompt == (
        "Change: Replace the mug with a glass of water. Keep unchanged: The hands, the table."
    )


def test_edit_prompt_without_keep_still_protects_the_rest():
    prompt = compose_edit_prompt("make the sky stormy")

    assert prompt.startswith("Change: Make the sky stormy. Keep unchanged: ")
    assert len(prompt) > len("Change: Make the sky stormy. Keep unchanged: ")


def test_edit_prompt_needs_a_change():
    with pytest.raises(ValueError):
        compose_edit_prompt("  ", "everything")


# --- check_brief -----------------------------------------------------------------------


def test_complete_brief_has_no_findings():
    assert check_brief(COMPLETE) == []


def test_missing_subject_is_the_only_error():
    findings = check_brief(Brief(""))

    assert [f for f in findings if f.severity == "error"] == [
        next(f for f in findings if f.code == "missing_subject")
    ]
    assert findings[0].field == "subject"
    assert has_blockers(findings)


def test_empty_brief_reports_every_missing_part_in_field_order():
    assert codes(check_brief(Brief(""))) == [
        "missing_subject",
        "missing_frame",
        "missing_lighting",
        "missing_style",
    ]


@pytest.mark.parametrize(
    ("field", "code", "severity"),
    [
        ("lighting", "missing_lighting", "warning"),
        ("frame", "missing_frame", "warning"),
        ("style", "missing_style", "info"),
    ],
)
def test_each_missing_part_is_reported_alone(field, code, severity):
    brief = Brief(**(COMPLETE.as_dict() | {field: ""}))

    assert check_brief(brief) == [
        Finding(field, severity, code, check_brief(brief)[0].hint),
    ]
    assert not has_blockers(check_brief(brief))


def test_whitespace_only_counts_as_missing():
    brief = Brief(**(COMPLETE.as_dict() | {"lighting": "   "}))

    assert codes(check_brief(brief)) == ["missing_lighting"]


def test_finish_is_optional():
    brief = Brief(**(COMPLETE.as_dict() | {"finish": ""}))

    assert check_brief(brief) == []


def test_vague_words_are_named_in_the_hint_with_their_field():
    brief = Brief(**(COMPLETE.as_dict() | {"style": "Epic, stunning masterpiece, epic"}))

    [finding] = check_brief(brief)
    assert (finding.field, finding.severity, finding.code) == ("style", "warning", "vague_words")
    assert "“epic”" in finding.hint
    assert "“stunning”" in finding.hint
    assert "“masterpiece”" in finding.hint
    assert finding.hint.count("epic") == 1


def test_vague_words_are_reported_per_field():
    brief = Brief(**(COMPLETE.as_dict() | {"subject": "A nice dog", "finish": "High quality"}))

    findings = check_brief(brief)
    assert [(f.field, f.code) for f in findings] == [
        ("subject", "vague_words"),
        ("finish", "vague_words"),
    ]
    assert "“high quality”" in findings[1].hint


@pytest.mark.parametrize(
    "style",
    [
        "Cool tones, cyan shadows",  # a colour temperature, not praise
        "Goodwin-style poster",  # "good" only as a whole word
        "Nicely balanced greys",  # "nice" only as a whole word
    ],
)
def test_words_with_visual_meaning_are_not_vague(style):
    brief = Brief(**(COMPLETE.as_dict() | {"style": style}))

    assert "vague_words" not in codes(check_brief(brief))


def test_cool_alone_is_vague():
    brief = Brief(**(COMPLETE.as_dict() | {"style": "Something cool"}))

    assert "vague_words" in codes(check_brief(brief))


@pytest.mark.parametrize(
    "subject",
    [
        "A cat and a spaceship battle",
        "An old lighthouse and the northern lights",
        "A cat; a spaceship battle",
        "A cat and also a spaceship",
        "A portrait plus a city skyline",
        "A cat on a sofa. A rocket launching.",
    ],
)
def test_two_concepts_in_the_subject_are_flagged(subject):
    brief = Brief(**(COMPLETE.as_dict() | {"subject": subject}))

    assert codes(check_brief(brief)) == ["multiple_concepts"]
    assert check_brief(brief)[0].field == "subject"


@pytest.mark.parametrize(
    "subject",
    [
        "Person at a café with a laptop",
        "Bread and butter on a plate",
        "A woman holding a cup and a saucer",
        "Salt-and-pepper haired chef",
        "A fox in the snow.",
    ],
)
def test_one_concept_is_not_flagged(subject):
    brief = Brief(**(COMPLETE.as_dict() | {"subject": subject}))

    assert "multiple_concepts" not in codes(check_brief(brief))


def test_long_subject_gets_a_gentle_note():
    brief = Brief(**(COMPLETE.as_dict() | {"subject": "A lighthouse " + "x" * 200}))

    [finding] = check_brief(brief)
    assert (finding.field, finding.severity, finding.code) == (
        "subject",
        "info",
        "subject_too_long",
    )


def test_subject_of_200_characters_is_fine():
    brief = Brief(**(COMPLETE.as_dict() | {"subject": "x" * 200}))

    assert check_brief(brief) == []


def test_too_long_compares_the_composed_prompt_with_the_model_limit():
    prompt_length = len(compose_prompt(COMPLETE))

    assert check_brief(COMPLETE, max_prompt_chars=prompt_length) == []
    [finding] = check_brief(COMPLETE, max_prompt_chars=prompt_length - 1)
    assert (finding.severity, finding.code) == ("error", "too_long")
    assert str(prompt_length) in finding.hint
    assert has_blockers([finding])


def test_findings_are_ordered_by_field_then_severity():
    brief = Brief(subject="A nice cat and a dog " + "x" * 200, style="amazing")

    findings = check_brief(brief, max_prompt_chars=10)
    assert [(f.field, f.severity, f.code) for f in findings] == [
        ("subject", "warning", "multiple_concepts"),
        ("subject", "warning", "vague_words"),
        ("subject", "info", "subject_too_long"),
        ("frame", "warning", "missing_frame"),
        ("lighting", "warning", "missing_lighting"),
        ("style", "warning", "vague_words"),
        ("prompt", "error", "too_long"),
    ]


def test_check_never_changes_the_brief():
    brief = Brief("A nice cat and a dog")

    check_brief(brief)
    assert brief == Brief("A nice cat and a dog")


def test_every_hint_is_a_short_sentence():
    findings = check_brief(
        Brief("A nice cat and a dog " + "x" * 200, style="amazing"), max_prompt_chars=10
    )

    for finding in findings:
        assert finding.hint and len(finding.hint) < 140
        assert finding.hint[0].isupper()
        assert finding.hint.endswith(".")


# --- presets ---------------------------------------------------------------------------


def test_four_presets_with_unique_keys():
    assert len(PRESETS) == 4
    assert len({preset.key for preset in PRESETS}) == 4


@pytest.mark.parametrize(
    ("key", "prompt"),
    [
        ("cafe-laptop", "Person at a café with a laptop. Daylight. Casual, simple."),
        ("product-white", "Product on white background. Soft lighting. Clean, minimal."),
        ("mountain-sunset", "Mountain landscape at sunset. Wide. Cinematic."),
        ("fantasy-tavern", "Character in a fantasy tavern. Firelight. Illustration style."),
    ],
)
def test_presets_compose_to_the_example_briefs(key, prompt):
    assert compose_prompt(get_preset(key).brief) == prompt


def test_presets_split_into_the_right_fields():
    assert get_preset("cafe-laptop").brief.lighting == "Daylight"
    assert get_preset("product-white").brief.style == "Clean, minimal"
    assert get_preset("mountain-sunset").brief.frame == "Wide"
    assert get_preset("fantasy-tavern").brief.lighting == "Firelight"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.key)
def test_presets_pass_the_checker_without_errors(preset):
    findings = check_brief(preset.brief)

    assert not has_blockers(findings)
    assert "vague_words" not in codes(findings)
    assert "multiple_concepts" not in codes(findings)


def test_unknown_preset():
    with pytest.raises(KeyError):
        get_preset("nope")
