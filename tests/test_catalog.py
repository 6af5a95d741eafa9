"""The model registry: sizes, costs, lifecycle and the operator's override."""

from datetime import date

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio.catalog import (
    CAPABILITIES,
    MODELS,
    RATIOS,
    SCENARIOS,
    TIER_KEYS,
    TIERS,
    FixedSizes,
    FreeSizes,
    NoUsableModel,
    SizePlan,
    UnknownModel,
    build_registry,
    cost,
    lifecycle,
    plan_size,
    registry,
    reset_registry,
)

BEFORE_SHUTDOWN = date(2026, 11, 25)
SHUTDOWN_DAY = date(2026, 12, 1)
AFTER_SHUTDOWN = date(2026, 12, 2)

TABLE = build_registry({})


def spec(key):
    return TABLE.get(key)


@pytest.fixture
def studio_models(settings):
    """Set STUDIO_MODELS and rebuild the registry; restore it afterwards."""

    def configure(value):
        settings.STUDIO_MODELS = value
        reset_registry()
        return registry()

    yield configure
    reset_registry()


# --- the table ---------------------------------------------------------------------------


def test_table_lists_the_expected_models():
    assert {s.key for s in MODELS} == {
        "sketch",
        "gpt-image-1-mini",
        "gpt-image-1",
        "gpt-image-1.5",
        "gpt-image-2",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda s: s.key)
def test_every_model_is_well_formed(model):
    assert model.engine in ("openai", "sketch")
    assert model.tiers and set(model.tiers) <= set(TIER_KEYS)
    assert model.capabilities <= CAPABILITIES
    assert model.label and model.best_for and model.notes
    assert set(model.credits) == {q for q in model.qualities if q != "auto"}
    assert model.max_prompt_chars == 32000
    assert model.successor is None or model.successor in TABLE


@pytest.mark.parametrize("model", [s for s in MODELS if s.engine == "openai"], ids=lambda s: s.key)
def test_openai_models(model):
    assert model.api_model == model.key
    assert "auto" in model.qualities
    assert {"generate", "edit", "references", "streaming"} <= model.capabilities
    assert model.max_references == 15
    assert model.partial_images == 3


def test_sketch_is_an_offline_draft_model():
    sketch = spec("sketch")

    assert (sketch.engine, sketch.tier, sketch.status) == ("sketch", "draft", "available")
    assert sketch.qualities == ("low", "medium", "high")
    assert set(sketch.capabilities) == {"generate", "edit", "references", "streaming"}
    assert "offline" in sketch.best_for and "not an image model" in sketch.best_for.lower()


def test_home_tiers():
    assert spec("gpt-image-1-mini").tier == "draft"
    assert spec("gpt-image-1").tier == "balanced"
    assert spec("gpt-image-1.5").tier == "best"
    assert spec("gpt-image-2").tier == "balanced"
    assert spec("gpt-image-2.6-flare").tier == "draft"
    assert spec("gpt-image-2.6-sunburst").tier == "best"


def test_editing_tier_lists_only_edit_capable_models():
    editing = TABLE.for_tier("editing")

    assert editing
    assert all(s.can("edit") for s in editing)
    assert spec("gpt-image-2") in editing
    assert spec("gpt-image-1-mini") in editing


def test_unknown_tier():
    with pytest.raises(ValueError):
        TABLE.for_tier("cheap")


def test_input_fidelity():
    assert spec("gpt-image-1.5").supports_input_fidelity
    assert spec("gpt-image-1").supports_input_fidelity
    assert not spec("gpt-image-1-mini").supports_input_fidelity
    # gpt-image-2 always uses high fidelity; sending the parameter is an error.
    assert not spec("gpt-image-2").supports_input_fidelity


def test_newer_models_add_xhigh_and_max():
    for key in (
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
    ):
        assert {"xhigh", "max"} <= set(spec(key).qualities)
        assert "[3rd]" in spec(key).notes
    assert "xhigh" not in spec("gpt-image-2").qualities


def test_credits_follow_the_published_prices():
    assert spec("gpt-image-1-mini").credits == {"low": (1, 2), "medium": (3, 3), "high": (8, 11)}
    assert spec("gpt-image-1.5").credits == {"low": (2, 3), "medium": (7, 10), "high": (27, 40)}
    assert spec("gpt-image-1").credits == {"low": (3, 4), "medium": (9, 13), "high": (34, 50)}
    # $0.006 / $0.005, $0.053 / $0.041, $0.211 / $0.165 at $0.005 a credit, rounded up.
    assert spec("gpt-image-2").credits == {"low": (2, 1), "medium": (11, 9), "high": (43, 33)}


def test_estimated_credits_grow_with_quality():
    credits = spec("gpt-image-2.6-sunburst").credits
    ladder = [credits[q] for q in ("low", "medium", "high", "xhigh", "max")]

    assert ladder == sorted(ladder)
    assert all(square <= other for square, other in ladder)


# --- sizes -------------------------------------------------------------------------------

NATIVE = {"1:1": (1024, 1024), "16:9": (1536, 864), "9:16": (864, 1536)}
GPT1_REQUESTED = {"1:1": (1024, 1024), "16:9": (1536, 1024), "9:16": (1024, 1536)}
GPT1_FAMILY = {"gpt-image-1-mini", "gpt-image-1", "gpt-image-1.5"}


@pytest.mark.parametrize("ratio", list(RATIOS))
@pytest.mark.parametrize("model", MODELS, ids=lambda s: s.key)
def test_size_plan_for_every_model_and_ratio(model, ratio):
    plan = plan_size(model, ratio)

    if model.key in GPT1_FAMILY:
        assert plan == SizePlan(requested=GPT1_REQUESTED[ratio], final=NATIVE[ratio])
        assert plan.cropped == (ratio != "1:1")
    else:
        assert plan == SizePlan(requested=NATIVE[ratio], final=NATIVE[ratio])
        assert not plan.cropped
    assert model.sizes.allows(*plan.requested)
    a, b = RATIOS[ratio]
    assert plan.final[0] * b == plan.final[1] * a


def test_api_size_is_the_requested_size():
    assert plan_size(spec("gpt-image-1"), "16:9").api_size == "1536x1024"
    assert plan_size(spec("gpt-image-2"), "16:9").api_size == "1536x864"


def test_unknown_ratio():
    with pytest.raises(ValueError):
        plan_size(spec("gpt-image-2"), "4:3")


def test_fixed_sizes_allow_only_their_sizes():
    rule = FixedSizes()

    assert rule.allows(1536, 1024)
    assert not rule.allows(1536, 864)
    assert not rule.allows(1920, 1080)


def test_free_sizes_rules():
    rule = FreeSizes()

    assert rule.allows(1536, 864)
    assert rule.allows(3840, 2160)
    assert not rule.allows(1920, 1080)  # 1080 is not a multiple of 16
    assert not rule.allows(4096, 2304)  # longer than 3840
    assert not rule.allows(768, 768)  # under the minimum pixel count
    assert not rule.allows(3072, 768)  # wider than 3:1
    assert rule.allows(2304, 768)  # exactly 3:1


def test_free_sizes_fit_other_ratios_in_the_standard_canvas():
    rule = FreeSizes()

    assert rule.native_size((4, 3)) == (1344, 1008)
    assert rule.native_size((3, 1)) == (1536, 512)


def test_free_sizes_refuse_impossible_ratios():
    with pytest.raises(ValueError):
        FreeSizes().native_size((5, 1))


# --- cost --------------------------------------------------------------------------------


def test_cost_square_and_non_square():
    mini = spec("gpt-image-1-mini")

    assert cost(mini, "high", "1:1", 1) == 8
    assert cost(mini, "high", "16:9", 1) == 11
    assert cost(mini, "high", "9:16", 4) == 44
    assert cost(mini, "low", "1:1", 3) == 3


def test_cost_uses_the_generated_size_not_the_cropped_one():
    # 16:9 on gpt-image-1 is drawn at 1536x1024 and billed as non-square.
    assert cost(spec("gpt-image-1"), "medium", "16:9", 2) == 26


def test_auto_is_charged_as_the_priciest_quality():
    assert cost(spec("gpt-image-1.5"), "auto", "1:1", 1) == cost(
        spec("gpt-image-1.5"), "high", "1:1", 1
    )
    flare = spec("gpt-image-2.6-flare")
    assert cost(flare, "auto", "16:9", 1) == cost(flare, "max", "16:9", 1)


def test_edit_inputs_add_one_credit_each_once_per_job():
    mini = spec("gpt-image-1-mini")

    assert cost(mini, "medium", "1:1", 2, references=3) == 2 * 3 + 3


def test_sketch_costs_one_credit_per_image_at_any_quality_and_ratio():
    sketch = spec("sketch")

    for quality in sketch.qualities:
        for ratio in RATIOS:
            assert cost(sketch, quality, ratio, 3, references=2) == 3


def test_cost_refuses_a_quality_the_model_lacks():
    with pytest.raises(ValueError):
        cost(spec("gpt-image-2"), "max", "1:1", 1)
    with pytest.raises(ValueError):
        cost(spec("sketch"), "auto", "1:1", 1)


def test_cost_refuses_bad_counts():
    with pytest.raises(ValueError):
        cost(spec("gpt-image-2"), "low", "1:1", 0)
    with pytest.raises(ValueError):
        cost(spec("gpt-image-2"), "low", "1:1", 1, references=17)
    with pytest.raises(ValueError):
        cost(spec("sketch"), "low", "1:1", 1, references=6)
    assert cost(spec("gpt-image-2"), "low", "1:1", 1, references=16) == 2 + 16


# --- lifecycle ---------------------------------------------------------------------------


def test_available_model():
    state = TABLE.lifecycle(spec("gpt-image-2"), BEFORE_SHUTDOWN)

    assert (state.status, state.usable, state.message) == ("available", True, "")


def test_deprecated_model_before_its_shutdown():
    state = TABLE.lifecycle(spec("gpt-image-1-mini"), BEFORE_SHUTDOWN)

    assert state.status == "deprecated"
    assert state.usable
    assert state.shutdown == SHUTDOWN_DAY
    assert state.successor == "gpt-image-2.6-flare"
    assert state.message == "Shuts down on 1 December 2026; move to GPT Image 2.6 Flare."


@pytest.mark.parametrize("today", [SHUTDOWN_DAY, AFTER_SHUTDOWN])
def test_deprecated_model_from_its_shutdown_day_is_retired(today):
    state = TABLE.lifecycle(spec("gpt-image-1.5"), today)

    assert (state.status, state.usable) == ("retired", False)
    assert state.message == "Retired on 1 December 2026. Use GPT Image 2.6 Sunburst instead."


def test_retired_model():
    state = TABLE.lifecycle(spec("gpt-image-1"), BEFORE_SHUTDOWN)

    assert (state.status, state.usable) == ("retired", False)
    assert state.message == "Retired on 23 October 2026. Use GPT Image 2.5 Sunburst instead."


def test_model_the_api_no_longer_knows_is_retired():
    state = TABLE.lifecycle(spec("gpt-image-2"), BEFORE_SHUTDOWN, frozenset({"gpt-image-2"}))

    assert (state.status, state.usable) == ("retired", False)
    assert state.message


def test_module_lifecycle_reads_the_registry(studio_models):
    studio_models({})

    assert lifecycle(spec("gpt-image-1-mini"), BEFORE_SHUTDOWN).usable
    assert not lifecycle(spec("gpt-image-1-mini"), AFTER_SHUTDOWN).usable


# --- registry and default ------------------------------------------------------------------


def test_get_unknown_model():
    with pytest.raises(UnknownModel) as caught:
        TABLE.get("dall-e-3")

    assert caught.value.key == "dall-e-3"
    assert isinstance(caught.value, KeyError)


def test_all_keeps_table_order():
    assert TABLE.all() == MODELS


def test_default_is_the_live_openai_draft_model():
    assert TABLE.default({"openai", "sketch"}, BEFORE_SHUTDOWN).key == "gpt-image-2.6-flare"


def test_default_without_an_api_key_is_sketch():
    assert TABLE.default({"sketch"}, BEFORE_SHUTDOWN).key == "sketch"


def test_default_skips_models_the_api_refuses():
    unavailable = frozenset({"gpt-image-2.6-flare"})

    assert TABLE.default({"openai"}, BEFORE_SHUTDOWN, unavailable).key == "gpt-image-2.5-flare"


def test_default_prefers_available_over_deprecated():
    registry_ = build_registry(
        {"models": {"gpt-image-2.5-flare": {"tiers": ["balanced"]}}, "retire": []}
    )
    # Draft tier is now 2.6-flare, mini (deprecated), sketch: sketch beats mini.
    unavailable = frozenset({"gpt-image-2.6-flare"})
    assert registry_.default({"openai", "sketch"}, BEFORE_SHUTDOWN, unavailable).key == "sketch"
    assert registry_.default({"openai"}, BEFORE_SHUTDOWN, unavailable).key == "gpt-image-1-mini"


def test_no_usable_model():
    with pytest.raises(NoUsableModel):
        TABLE.default({"other"}, BEFORE_SHUTDOWN)


# --- configuration -----------------------------------------------------------------------


def test_registry_without_setting_is_the_code_table(settings):
    if hasattr(settings, "STUDIO_MODELS"):
        del settings.STUDIO_MODELS
    reset_registry()
    try:
        assert registry().all() == MODELS
        assert registry().default_key is None
    finally:
        reset_registry()


def test_registry_is_built_once(studio_models):
    studio_models({})

    assert registry() is registry()


def test_override_changes_the_default(studio_models):
    configured = studio_models({"default": "gpt-image-2"})

    assert configured.default({"openai", "sketch"}, BEFORE_SHUTDOWN).key == "gpt-image-2"
    # Without an API key the configured model cannot run: fall back to the draft tier.
    assert configured.default({"sketch"}, BEFORE_SHUTDOWN).key == "sketch"


def test_configured_default_past_its_shutdown_falls_back(studio_models):
    configured = studio_models({"default": "gpt-image-1-mini"})

    assert configured.default({"openai"}, BEFORE_SHUTDOWN).key == "gpt-image-1-mini"
    assert configured.default({"openai"}, AFTER_SHUTDOWN).key == "gpt-image-2.6-flare"


def test_override_retires_a_model(studio_models):
    configured = studio_models({"retire": ["gpt-image-2.6-flare"]})

    assert configured.get("gpt-image-2.6-flare").status == "retired"
    assert configured.default({"openai"}, BEFORE_SHUTDOWN).key == "gpt-image-2.5-flare"


def test_override_changes_fields_of_a_model(studio_models):
    configured = studio_models(
        {
            "models": {
                "gpt-image-1-mini": {
                    "credits": {"low": [2, 2], "medium": [4, 4], "high": [9, 12]},
                    "shutdown": "2027-01-15",
                    "api_model": "my-gateway/gpt-image-1-mini",
                }
            }
        }
    )

    mini = configured.get("gpt-image-1-mini")
    assert mini.api_model == "my-gateway/gpt-image-1-mini"
    assert cost(mini, "high", "16:9", 1) == 12
    assert mini.shutdown == date(2027, 1, 15)
    assert configured.lifecycle(mini, AFTER_SHUTDOWN).usable
    assert configured.get("gpt-image-1").credits == spec("gpt-image-1").credits


def test_override_adds_a_model_like_another(studio_models):
    configured = studio_models(
        {"models": {"gpt-image-3": {"like": "gpt-image-2", "label": "GPT Image 3"}}}
    )

    new = configured.get("gpt-image-3")
    assert (new.label, new.api_model, new.status) == ("GPT Image 3", "gpt-image-3", "available")
    assert new.credits == spec("gpt-image-2").credits
    assert new in configured.for_tier("balanced")


def test_override_adds_a_full_new_model(studio_models):
    configured = studio_models(
        {
            "default": "house-model",
            "models": {
                "house-model": {
                    "label": "House model",
                    "engine": "openai",
                    "tier": "draft",
                    "sizes": "fixed",
                    "capabilities": ["generate"],
                    "qualities": ["standard"],
                    "credits": {"standard": [4, 6]},
                }
            },
        }
    )

    house = configured.get("house-model")
    assert configured.default({"openai"}, BEFORE_SHUTDOWN) == house
    assert house.tiers == ("draft",)
    assert plan_size(house, "9:16") == SizePlan((1024, 1536), (864, 1536))
    assert cost(house, "standard", "9:16", 2) == 12


@pytest.mark.parametrize(
    "config",
    [
        {"default": "nope"},
        {"retire": ["nope"]},
        {"defaults": "gpt-image-2"},
        {"models": {"gpt-image-2": {"colour": "red"}}},
        {"models": {"gpt-image-2": {"engine": "midjourney"}}},
        {"models": {"gpt-image-2": {"qualities": ["low", "ultra"]}}},
        {"models": {"gpt-image-2": {"successor": "nope"}}},
        {"models": {"gpt-image-2": {"like": "gpt-image-1"}}},
        {"models": {"new": {"label": "Incomplete"}}},
        {"models": {"new": {"like": "nope"}}},
    ],
)
def test_bad_configuration_is_refused(studio_models, config):
    with pytest.raises(ImproperlyConfigured):
        studio_models(config)


# --- advisor -------------------------------------------------------------------------------


def test_scenarios_map_to_tiers_that_have_models():
    assert set(SCENARIOS) == {"speed", "balanced", "quality", "editing"}
    assert [SCENARIOS[key].tier for key in ("speed", "balanced", "quality", "editing")] == [
        "draft",
        "balanced",
        "best",
        "editing",
    ]
    for scenario in SCENARIOS.values():
        assert scenario.label and scenario.why.endswith(".")
        assert scenario.tier in TIERS
        assert TABLE.for_tier(scenario.tier)


def test_override_accepts_json_shaped_size_rules(studio_models):
    configured = studio_models(
        {
            "models": {
                "gpt-image-1": {"sizes": {"kind": "fixed", "sizes": [[1024, 1024]]}},
                "gpt-image-2": {"sizes": {"kind": "free", "long_edge": 2048}},
            }
        }
    )

    assert plan_size(configured.get("gpt-image-1"), "16:9") == SizePlan((1024, 1024), (1024, 576))
    # The 16:9 canvas is now 2048x1024: the largest exact 16:9 size inside it.
    assert plan_size(configured.get("gpt-image-2"), "16:9").requested == (1792, 1008)
