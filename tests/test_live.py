"""Live progress over the WebSocket: who may listen, and what they receive."""

import asyncio
import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from studio import review
from studio.asgi import application
from studio.models import Gallery, Job, Version

from .pipeline import drain, submit

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user, gallery, origin=b"http://localhost"):
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(
        application, f"/ws/galleries/{gallery.pk}/", headers=headers
    )
    connected, _ = await communicator.connect()
    if connected:
        # The first message stamps the moment from which this socket hears everything.
        assert 'id="live-since"' in await communicator.receive_from(timeout=10)
    return communicator, connected


VOID = {"img", "input", "br", "hr", "meta", "link", "source"}


def top_level_elements(html: str) -> list[dict]:
    """Attributes of each element at the top of an HTML fragment."""
    from html.parser import HTMLParser

    found, depth = [], [0]

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if depth[0] == 0:
                found.append(dict(attrs))
            if tag not in VOID:
                depth[0] += 1

        def handle_endtag(self, tag):
            if tag not in VOID:
                depth[0] -= 1

    Parser().feed(html)
    return found


async def receive_until(communicator, marker: str, limit=100) -> list[str]:
    messages = []
    for _ in range(limit):
        message = await communicator.receive_from(timeout=10)
        messages.append(message)
        if marker in message:
            return messages
    raise AssertionError(f"{marker!r} never arrived")


@pytest.fixture
def gallery(cast):
    return Gallery.default_for(cast.team)


async def test_anonymous_outsider_and_foreign_origin_are_refused(cast, gallery):
    for user in (None, cast.outsider):
        communicator, connected = await connect(user, gallery)
        assert not connected
    communicator, connected = await connect(cast.viewer, gallery, origin=b"http://evil.example")
    assert not connected


async def test_member_sees_a_job_from_queue_to_finished_image(cast, gallery):
    communicator, connected = await connect(cast.viewer, gallery)
    assert connected
    job = await sync_to_async(submit)(cast.editor, cast.team)
    queued = await communicator.receive_from(timeout=10)
    assert f'id="job-{job.pk}"' in queued and 'data-upsert-into="#asset-grid"' in queued
    runner = asyncio.create_task(drain())
    messages = await receive_until(communicator, 'hx-swap-oob="delete"')
    await runner
    joined = "\n".join(messages)
    assert "Running" in joined
    assert re.search(r'<progress max="100" value="\d+"', joined)
    assert 'src="data:image/jpeg;base64,' in joined  # a partial preview
    assert 'id="asset-' in joined and "/thumb/" in joined  # the finished image
    # Every top-level element pushed has an id and an explicit swap.
    for message in messages:
        tops = top_level_elements(message)
        assert tops
        for attrs in tops:
            assert attrs.get("id") and attrs.get("hx-swap-oob"), (attrs, message)
    await communicator.disconnect()


async def test_reconnecting_page_catches_up_on_unfinished_jobs(cast, gallery):
    job = await sync_to_async(submit)(cast.editor, cast.team)
    communicator, connected = await connect(cast.owner, gallery)
    assert connected
    snapshot = await communicator.receive_from(timeout=10)
    assert f'id="job-{job.pk}"' in snapshot
    await communicator.disconnect()


async def test_a_page_back_from_a_gap_gets_what_it_missed_once(cast, gallery):
    """Work that finished while no socket listened (a restart, Redis down) reaches the page
    when its next socket asks, from the moment the page last knew everything."""
    before = timezone.now()
    await sync_to_async(submit)(cast.editor, cast.team)  # made and finished unseen
    await drain()
    job = await Job.objects.aget(gallery=gallery)
    version = await Version.objects.aget(job=job)
    communicator, connected = await connect(cast.viewer, gallery)
    assert connected
    await communicator.send_to(text_data=json.dumps({"catch_up_since": before.isoformat()}))
    messages = await receive_until(communicator, f'id="job-{job.pk}" hx-swap-oob="delete"')
    joined = "\n".join(messages)
    assert f'id="asset-{version.asset_id}"' in joined and "/thumb/" in joined
    # Once per socket: a page cannot make the server replay the gallery again and again.
    await communicator.send_to(text_data=json.dumps({"catch_up_since": before.isoformat()}))
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
    # Talk about it comes too: a comment and a review change made before this socket joined.
    await sync_to_async(review.add_comment)(version, cast.editor, "Crop it tighter")
    await sync_to_async(review.set_status)(version.asset, "approved", cast.owner)
    late, _ = await connect(cast.viewer, gallery)
    await late.send_to(text_data=json.dumps({"catch_up_since": before.isoformat()}))
    said = "\n".join(await receive_until(late, f'id="review-{version.asset_id}-'))
    assert "Crop it tighter" in said and "Approved" in said
    await late.disconnect()


async def test_catch_up_starts_where_the_page_left_and_ignores_nonsense(cast, gallery):
    await sync_to_async(submit)(cast.editor, cast.team)
    await drain()
    after = timezone.now()
    for said in (
        {"catch_up_since": "yesterday"},
        {"catch_up_since": after.replace(tzinfo=None).isoformat()},  # no time zone
        {"catch_up_since": 12},
        {"since": after.isoformat()},
        ["catch_up_since"],
    ):
        communicator, connected = await connect(cast.viewer, gallery)
        assert connected
        await communicator.send_to(text_data=json.dumps(said))
        assert await communicator.receive_nothing(timeout=0.2), said
        await communicator.disconnect()
    communicator, _ = await connect(cast.viewer, gallery)
    await communicator.send_to(text_data=json.dumps({"catch_up_since": after.isoformat()}))
    assert await communicator.receive_nothing(timeout=0.2)  # nothing new since then
    await communicator.disconnect()


async def test_removed_member_stops_receiving(cast, gallery):
    communicator, connected = await connect(cast.viewer, gallery)
    assert connected

    def remove():
        from accounts.teams import remove_member

        remove_member(Membership.objects.get(team=cast.team, user=cast.viewer))

    await sync_to_async(remove)()
    output = await communicator.receive_output(timeout=10)
    assert output["type"] == "websocket.close"
