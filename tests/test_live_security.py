"""Who may keep listening: removal through the pages closes every socket of the removed
person in that team, and only theirs; a closed door stays closed; a socket is one-way.

tests/test_live.py covers the basics (anonymous, outsider and a foreign origin are
refused; removal by teams.remove_member closes the socket); the authorization sweep
tries every socket route with every role and a list of foreign origins.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.models import Membership
from studio.models import Gallery

from .pipeline import submit
from .test_live import connect

pytestmark = pytest.mark.django_db(transaction=True)


async def closes(communicator) -> bool:
    output = await communicator.receive_output(timeout=10)
    return output["type"] == "websocket.close"


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def test_removed_by_an_owner_closes_every_gallery_socket_of_that_team_only(cast):
    main = await sync_to_async(Gallery.default_for)(cast.team)
    second = await Gallery.objects.acreate(team=cast.team, name="Second board")
    own = await sync_to_async(Gallery.default_for)(cast.other_team)
    await Membership.objects.acreate(team=cast.other_team, user=cast.viewer, role="viewer")

    viewer_main, ok1 = await connect(cast.viewer, main)
    viewer_second, ok2 = await connect(cast.viewer, second)
    viewer_elsewhere, ok3 = await connect(cast.viewer, own)
    editor_main, ok4 = await connect(cast.editor, main)
    assert ok1 and ok2 and ok3 and ok4

    membership = await Membership.objects.aget(team=cast.team, user=cast.viewer)

    def remove():
        url = f"/accounts/teams/{cast.team.pk}/members/{membership.pk}/remove/"
        assert web(cast.owner).post(url).status_code == 302

    await sync_to_async(remove)()
    assert await closes(viewer_main)
    assert await closes(viewer_second)
    # The editor stays and keeps receiving; the viewer's socket in another team stays open.
    job = await sync_to_async(submit)(cast.editor, cast.team)
    assert f'id="job-{job.pk}"' in await editor_main.receive_from(timeout=10)
    assert await viewer_elsewhere.receive_nothing(timeout=0.2)
    # And the door stays shut: a new socket is refused.
    again, connected = await connect(cast.viewer, main)
    assert not connected
    for communicator in (viewer_elsewhere, editor_main):
        await communicator.disconnect()


async def test_leaving_a_team_closes_the_socket(cast):
    gallery = await sync_to_async(Gallery.default_for)(cast.team)
    communicator, connected = await connect(cast.editor, gallery)
    assert connected

    def leave():
        assert web(cast.editor).post(f"/accounts/teams/{cast.team.pk}/leave/").status_code == 302

    await sync_to_async(leave)()
    assert await closes(communicator)


async def test_demoting_a_member_keeps_their_read_only_socket(cast):
    """A viewer may still watch: a role change is not a removal."""
    gallery = await sync_to_async(Gallery.default_for)(cast.team)
    communicator, connected = await connect(cast.editor, gallery)
    assert connected
    membership = await Membership.objects.aget(team=cast.team, user=cast.editor)

    def demote():
        url = f"/accounts/teams/{cast.team.pk}/members/{membership.pk}/role/"
        assert web(cast.owner).post(url, {"role": "viewer"}).status_code == 302

    await sync_to_async(demote)()
    job = await sync_to_async(submit)(cast.owner, cast.team)
    assert f'id="job-{job.pk}"' in await communicator.receive_from(timeout=10)
    await communicator.disconnect()


async def test_what_a_page_sends_is_ignored(cast):
    """The socket is one-way: a forged event from the browser reaches nobody."""
    gallery = await sync_to_async(Gallery.default_for)(cast.team)
    sender, connected = await connect(cast.viewer, gallery)
    listener, connected_too = await connect(cast.editor, gallery)
    assert connected and connected_too
    forged = {"type": "job.succeeded", "job": {"id": "x"}, "html": "<script>alert(1)</script>"}
    await sender.send_to(text_data=json.dumps(forged))
    await sender.send_to(text_data="not json at all")
    await sender.send_to(bytes_data=b"\x00\xff" * 1000)
    assert await listener.receive_nothing(timeout=0.3)
    assert await sender.receive_nothing(timeout=0.1)
    for communicator in (sender, listener):
        await communicator.disconnect()


async def test_a_removal_whose_event_was_lost_still_ends_the_socket(cast, monkeypatch):
    """Removal closes sockets through an event; if that event never arrives (the channel
    layer was down just then), the socket asks again before forwarding later events."""
    from studio import consumers

    monkeypatch.setattr(consumers, "MEMBERSHIP_RECHECK_SECONDS", 0)
    gallery = await sync_to_async(Gallery.default_for)(cast.team)
    viewer, ok = await connect(cast.viewer, gallery)
    editor, ok_too = await connect(cast.editor, gallery)
    assert ok and ok_too
    await Membership.objects.filter(team=cast.team, user=cast.viewer).adelete()  # no event
    job = await sync_to_async(submit)(cast.editor, cast.team)
    assert await closes(viewer)
    assert f'id="job-{job.pk}"' in await editor.receive_from(timeout=10)
    await editor.disconnect()
