"""The OpenAI engine through the real SDK against the fake server: requests, events, faults."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import aiohttp
import pytest
from PIL import Image, ImageDraw

from studio.engines import (
    AuthenticationFailed,
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
from studio.engines.openai import OpenAIEngine


class RecordingSleep:
    """Stands in for the retry clock: remembers each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def engine(fake_openai, sleep):
    engine = OpenAIEngine("sk-test", base_url=fake_openai.base_url, max_backoff=1.0, sleep=sleep)
    yield engine
    await engine.aclose()


def png(size=(1024, 1024), colour=(20, 160, 90), mode="RGB") -> bytes:
    fill = colour if mode == "RGB" else (*colour, 255)
    buffer = io.BytesIO()
    Image.new(mode, size, fill).save(buffer, "PNG")
    return buffer.getvalue()


def mask(size=(1024, 1024), hole=(256, 256, 767, 767)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(image).rectangle(hole, fill=(0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def make_request(**overrides) -> EngineRequest:
    fields = {
        "model": "gpt-image-1-mini",
        "prompt": "A ceramic mug on a wooden table, golden hour light, close-up",
        "width": 1024,
        "height": 1024,
        "quality": "low",
        "partial_images": 2,
    }
    return EngineRequest(**(fields | overrides))


async def run(engine: OpenAIEngine, request: EngineRequest) -> list:
    return [event async for event in engine.run(request)]


def finals(events: list) -> list[Finished]:
    return [event for event in events if isinstance(event, Finished)]


def slot_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("openai-slot-")]


# --- what the SDK sends ---------------------------------------------------------------------


async def test_generation_sends_one_streaming_json_request(engine, fake_openai):
    await run(engine, make_request())
    [sent] = fake_openai.requests
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json == {
        "model": "gpt-image-1-mini",
        "prompt": "A ceramic mug on a wooden table, golden hour light, close-up",
        "size": "1024x1024",
        "quality": "low",
        "n": 1,
        "stream": True,
        "partial_images": 2,
        "output_format": "png",
    }


async def test_background_is_sent_only_when_set(engine, fake_openai):
    await run(engine, make_request(background="transparent"))
    assert fake_openai.requests[0].json["background"] == "transparent"


async def test_partials_and_final_image_become_events(engine):
    events = await run(engine, make_request())
    assert [type(event) for event in events] == [
        Progress, Partial, Progress, Partial, Progress, Progress, Finished
    ]  # fmt: skip
    assert events[0] == Progress(0, 0.05, "Sent to gpt-image-1-mini")
    partials = [event for event in events if isinstance(event, Partial)]
    assert [partial.index for partial in partials] == [0, 1]
    assert [e.fraction for e in events if isinstance(e, Progress)] == pytest.approx(
        [0.05, 1 / 3, 2 / 3, 1.0]
    )
    [final] = finals(events)
    assert (final.slot, final.width, final.height) == (0, 1024, 1024)
    image = Image.open(io.BytesIO(final.image))
    assert (image.format, image.size) == ("PNG", (1024, 1024))
    assert Image.open(io.BytesIO(partials[0].image)).size == (1024, 1024)
    assert final.usage["output_tokens"] == 625 + 200  # mini, low, square, plus two partials
    assert set(final.usage) >= {"input_tokens", "input_tokens_details", "total_tokens"}


async def test_n_images_are_n_concurrent_slots(engine, fake_openai):
    events = await run(engine, make_request(n=3))
    assert sorted(final.slot for final in finals(events)) == [0, 1, 2]
    assert len(fake_openai.requests) == 3
    assert all(sent.json["n"] == 1 for sent in fake_openai.requests)
    for slot in range(3):
        mine = [event for event in events if event.slot == slot]
        assert isinstance(mine[-1], Finished)


async def test_edit_sends_the_source_references_and_mask_as_multipart(engine, fake_openai):
    source, reference_a, reference_b = png(), png(colour=(1, 2, 3)), png((512, 512))
    request = make_request(
        model="gpt-image-1.5",
        prompt="Replace the mug with a teapot",
        image=source,
        mask=mask(),
        references=(reference_a, reference_b),
        input_fidelity="high",
    )
    events = await run(engine, request)
    assert len(finals(events)) == 1
    [sent] = fake_openai.requests
    assert sent.path == "/v1/images/edits"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert sent.form == {
        "prompt": "Replace the mug with a teapot",
        "model": "gpt-image-1.5",
        "size": "1024x1024",
        "quality": "low",
        "n": "1",
        "stream": "true",
        "partial_images": "2",
        "output_format": "png",
        "input_fidelity": "high",
    }
    assert [(f.field_name, f.filename, f.content_type, f.data) for f in sent.files] == [
        ("image[]", "image.png", "image/png", source),
        ("image[]", "reference-1.png", "image/png", reference_a),
        ("image[]", "reference-2.png", "image/png", reference_b),
        ("mask", "mask.png", "image/png", mask()),
    ]


async def test_an_edit_without_references_sends_a_single_image_part(engine, fake_openai):
    source = png()
    events = await run(engine, make_request(image=source))
    [sent] = fake_openai.requests
    assert [(f.field_name, f.data) for f in sent.files] == [("image", source)]
    assert "input_fidelity" not in sent.form and "mask" not in sent.part_names
    # Like the real model, the fake redraws everything, so nothing is kept by accident.
    result = Image.open(io.BytesIO(finals(events)[0].image)).convert("RGB")
    assert result.getpixel((0, 0)) == (255 - 20, 255 - 160, 255 - 90)
    assert any(isinstance(event, Partial) for event in events)


# --- faults ---------------------------------------------------------------------------------


async def test_a_rate_limit_is_retried_after_the_servers_retry_after_ms(engine, fake_openai, sleep):
    fake_openai.fail_next("rate_limit", retry_after_ms=7)
    events = await run(engine, make_request())
    assert len(finals(events)) == 1
    assert len(fake_openai.requests) == 2
    assert sleep.delays == [0.007]
    assert Progress(0, 0.0, "Retrying (2 of 3)") in events


async def test_a_retry_after_beyond_max_backoff_gives_up_at_once(engine, fake_openai, sleep):
    fake_openai.fail_next("rate_limit", retry_after_ms=None, retry_after=600)
    with pytest.raises(TransientError, match="Try again later") as caught:
        await run(engine, make_request())
    assert "10 minutes" in caught.value.message
    assert len(fake_openai.requests) == 1
    assert sleep.delays == []


async def test_server_errors_back_off_exponentially_and_then_succeed(engine, fake_openai, sleep):
    fake_openai.fail_next("server_error", times=2)
    events = await run(engine, make_request())
    assert len(finals(events)) == 1
    assert len(fake_openai.requests) == 3
    first, second = sleep.delays
    assert 0.375 <= first <= 0.5 and 0.75 <= second <= 1.0  # 0.5 s doubling, with jitter


async def test_backoff_is_capped_by_max_backoff(fake_openai, sleep):
    engine = OpenAIEngine("sk", base_url=fake_openai.base_url, max_backoff=0.01, sleep=sleep)
    fake_openai.fail_next("unavailable", times=2)
    try:
        assert len(finals(await run(engine, make_request()))) == 1
    finally:
        await engine.aclose()
    assert sleep.delays == [0.01, 0.01]


async def test_three_server_errors_exhaust_the_attempts(engine, fake_openai):
    fake_openai.fail_next("server_error", times=3)
    with pytest.raises(TransientError) as caught:
        await run(engine, make_request())
    assert caught.value.retryable
    assert len(fake_openai.requests) == 3


async def test_exhausted_quota_is_not_retried(engine, fake_openai, sleep):
    fake_openai.fail_next("quota", times=3)
    with pytest.raises(QuotaExhausted):
        await run(engine, make_request())
    assert len(fake_openai.requests) == 1
    assert sleep.delays == []


async def test_moderation_block_is_a_policy_refusal(engine, fake_openai):
    fake_openai.fail_next("moderation")
    with pytest.raises(PolicyRefusal) as caught:
        await run(engine, make_request())
    assert caught.value.message == (
        "The image service refused this brief under its content policy. "
        "Rephrase the brief and try again."
    )
    assert caught.value.code == "moderation_blocked"
    assert len(fake_openai.requests) == 1


async def test_a_shut_down_model_is_unavailable(engine, fake_openai):
    fake_openai.shutdown_models = {"gpt-image-1"}
    with pytest.raises(ModelUnavailable, match="gpt-image-1"):
        await run(engine, make_request(model="gpt-image-1"))
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("clean", [False, True], ids=["hang-up", "clean-end"])
async def test_a_cut_stream_restarts_the_slot(engine, fake_openai, clean):
    fake_openai.fail_next("cut_stream", clean=clean)
    events = await run(engine, make_request())
    assert len(fake_openai.requests) == 2
    assert len(finals(events)) == 1
    # The first attempt's preview arrived, then the retry streamed its own from index 0.
    assert [e.index for e in events if isinstance(e, Partial)] == [0, 0, 1]


async def test_an_error_event_inside_the_stream_is_retried(engine, fake_openai):
    fake_openai.fail_next("stream_error")
    events = await run(engine, make_request())
    assert len(finals(events)) == 1
    assert len(fake_openai.requests) == 2


async def test_repeated_stream_errors_end_as_transient(engine, fake_openai):
    fake_openai.fail_next("stream_error", times=3)
    with pytest.raises(TransientError, match="stopped in the middle"):
        await run(engine, make_request())


async def test_a_garbled_answer_is_retried(engine, fake_openai):
    fake_openai.fail_next("malformed")
    assert len(finals(await run(engine, make_request()))) == 1
    assert len(fake_openai.requests) == 2


async def test_a_slow_answer_times_out_as_transient(fake_openai):
    engine = OpenAIEngine("sk", base_url=fake_openai.base_url, timeout=0.2, max_attempts=1)
    fake_openai.fail_next("timeout")
    try:
        with pytest.raises(TransientError) as caught:
            await run(engine, make_request())
    finally:
        await engine.aclose()
    assert caught.value.code == "timeout"


async def test_a_rejected_key_fails_authentication(fake_openai):
    fake_openai.api_key = "sk-right"
    engine = OpenAIEngine("sk-wrong", base_url=fake_openai.base_url)
    try:
        with pytest.raises(AuthenticationFailed):
            await run(engine, make_request())
    finally:
        await engine.aclose()
    assert len(fake_openai.requests) == 1


async def test_the_auth_fault_fails_authentication(engine, fake_openai):
    fake_openai.fail_next("auth")
    with pytest.raises(AuthenticationFailed):
        await run(engine, make_request())


# --- what the fake validates, seen through the engine ---------------------------------------


async def test_a_size_the_model_cannot_make_is_an_invalid_request(engine, fake_openai):
    with pytest.raises(InvalidRequest, match="'1536x1024'"):
        await run(engine, make_request(width=1536, height=864))
    assert len(fake_openai.requests) == 1


async def test_gpt_image_2_takes_16_9_but_only_in_multiples_of_16(engine):
    events = await run(engine, make_request(model="gpt-image-2", width=1536, height=864))
    assert (finals(events)[0].width, finals(events)[0].height) == (1536, 864)
    with pytest.raises(InvalidRequest, match="divisible by 16"):
        await run(engine, make_request(model="gpt-image-2", width=1920, height=1080))


async def test_input_fidelity_is_refused_on_mini(engine):
    with pytest.raises(InvalidRequest, match="input_fidelity"):
        await run(engine, make_request(image=png(), input_fidelity="high"))


@pytest.mark.parametrize(
    "bad_mask, reason",
    [
        (mask(size=(512, 512), hole=(0, 0, 10, 10)), "must match"),
        (png(), "alpha channel"),
    ],
    ids=["wrong-size", "no-alpha"],
)
async def test_a_bad_mask_is_an_invalid_request(engine, bad_mask, reason):
    with pytest.raises(InvalidRequest, match=reason):
        await run(engine, make_request(image=png(), mask=bad_mask))


# --- tasks are never leaked -----------------------------------------------------------------


async def test_closing_the_stream_early_cancels_every_slot(engine, fake_openai):
    fake_openai.latency = 0.05  # keeps the slots busy while the consumer walks away
    events = engine.run(make_request(n=3))
    first = await anext(events)
    assert isinstance(first, Progress)
    assert slot_tasks()
    await events.aclose()
    assert slot_tasks() == []


async def test_a_failing_slot_cancels_its_siblings(engine, fake_openai):
    fake_openai.latency = 0.02
    fake_openai.fail_next("moderation")
    with pytest.raises(PolicyRefusal):
        await run(engine, make_request(n=3))
    assert slot_tasks() == []


# --- the fake's wire format, without the SDK ------------------------------------------------


async def test_fake_accepts_repeated_image_fields_and_answers_plain_json(fake_openai):
    form = aiohttp.FormData()
    for field, value in (("prompt", "tint it"), ("model", "gpt-image-1"), ("n", "2")):
        form.add_field(field, value)
    form.add_field("image", png(), filename="a.png", content_type="image/png")
    form.add_field("image", png(colour=(9, 9, 9)), filename="b.png", content_type="image/png")
    headers = {"Authorization": "Bearer sk-test"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake_openai.base_url}/images/edits", data=form, headers=headers) as reply,
    ):
        body = await reply.json()
    assert reply.status == 200
    assert [f.field_name for f in fake_openai.requests[0].files] == ["image", "image"]
    assert len(body["data"]) == 2 and body["size"] == "1024x1024" and body["quality"] == "medium"
    assert Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))).size == (
        1024,
        1024,
    )
    assert body["usage"]["input_tokens_details"]["image_tokens"] > 0


async def test_fake_streams_server_sent_events_and_requires_a_key(fake_openai):
    url = f"{fake_openai.base_url}/images/generations"
    payload = {"model": "gpt-image-1-mini", "prompt": "x", "stream": True, "partial_images": 1}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=payload) as reply:
            assert reply.status == 401
            assert set((await reply.json())["error"]) >= {"message", "type", "param", "code"}
        headers = {"Authorization": "Bearer sk-test"}
        async with session.post(url, json=payload, headers=headers) as reply:
            assert reply.headers["content-type"].startswith("text/event-stream")
            text = await reply.text()
    blocks = [block.split("\n") for block in text.strip().split("\n\n")]
    assert [block[0] for block in blocks] == [
        "event: image_generation.partial_image",
        "event: image_generation.completed",
    ]
    events = [json.loads(block[1].removeprefix("data: ")) for block in blocks]
    assert events[0]["partial_image_index"] == 0 and events[0]["type"] == blocks[0][0][7:]
    assert events[1]["usage"]["total_tokens"] > 0
