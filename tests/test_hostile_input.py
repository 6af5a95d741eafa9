"""Hostile input through the studio's doors: forms, the JSON API, uploads, URLs, headers.

Every case answers a clear 4xx (never a 500), creates no job and charges nothing; text
that looks like HTML is shown as text, in pages and in WebSocket fragments alike.
tests/test_imaging.py covers the image decoder itself; here the same files arrive
through the edit page, as a browser would send them.
"""

import io
import json
import re
import uuid
from html.parser import HTMLParser

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import ExifTags, Image

from accounts.models import ApiToken, Team
from studio.models import Asset, Gallery, Job, SavedBrief, Version

from .pipeline import drain, submit
from .test_authorization_sweep import PAGES, call, page_routes, values_for
from .test_imaging import encode, jpeg_with_gps, noise, png_claiming_size
from .test_live import connect
from .world import build_world, painted_mask

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;"


@pytest.fixture
def gallery(cast) -> Gallery:
    return Gallery.default_for(cast.team)


@pytest.fixture
def world(cast):
    return build_world(cast.owner, cast.team, cast.editor)


def web(user, **options) -> Client:
    client = Client(raise_request_exception=False, **options)
    client.force_login(user)
    return client


def bearer(user) -> Client:
    _, token = ApiToken.issue(user, "hostile")
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")


def nothing_charged(cast, jobs_before: int, balance_before: int) -> bool:
    balance = Team.objects.get(pk=cast.team.pk).credit_balance
    return Job.objects.count() == jobs_before and balance == balance_before


# --- The generate form --------------------------------------------------------------------

GOOD_FORM = {
    "subject": "A red kite over a grey sea",
    "lighting": "Low winter sun",
    "model": "sketch",
    "aspect_ratio": "1:1",
    "quality": "low",
    "n": "1",
}

HOSTILE_FORMS = {
    "subject over the field limit": {"subject": "x" * 4001},
    "subject of 200,000 characters": {"subject": "kite " * 40_000},
    "subject of spaces": {"subject": "   \t\n  "},
    "no subject at all": {"subject": None},
    "subject with a NUL": {"subject": "A kite\x00"},
    "n is a word": {"n": "many"},
    "n is zero": {"n": "0"},
    "n is negative": {"n": "-1"},
    "n above the limit": {"n": "5"},
    "n is huge": {"n": "9" * 40},
    "n is a fraction": {"n": "1.5"},
    "n in exponent form": {"n": "1e3"},
    "n is empty": {"n": ""},
    "unknown model": {"model": "nope"},
    "model is a path": {"model": "../../etc/passwd"},
    "model over its field limit": {"model": "m" * 65},
    "retired model": {"model": "gpt-image-1"},
    "no model": {"model": None},
    "aspect ratio 4:3": {"aspect_ratio": "4:3"},
    "aspect ratio with SQL": {"aspect_ratio": "1:1'; DROP TABLE studio_job; --"},
    "no aspect ratio": {"aspect_ratio": None},
    "quality ultra": {"quality": "ultra"},
    "quality over its field limit": {"quality": "q" * 13},
    "lighting of another script": {"lighting": "\u202e\u0635\u0648\u0631\u0629" * 2000},
}


@pytest.mark.parametrize("case", HOSTILE_FORMS, ids=list(HOSTILE_FORMS))
def test_generate_form_refuses_hostile_values(cast, gallery, case):
    data = {**GOOD_FORM, **HOSTILE_FORMS[case]}
    data = {key: value for key, value in data.items() if value is not None}
    jobs, balance = Job.objects.count(), Team.objects.get(pk=cast.team.pk).credit_balance
    url = f"/galleries/{gallery.pk}/jobs/"
    response = web(cast.editor).post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code < 500
    assert nothing_charged(cast, jobs, balance), case
    # The good form, for contrast, does queue a job.
    assert web(cast.editor).post(url, GOOD_FORM).status_code == 302
    assert Job.objects.count() == jobs + 1


# --- The JSON API ---------------------------------------------------------------------------

BRIEF = {"subject": "A lighthouse on a cliff", "lighting": "Stormy dusk"}

HOSTILE_BODIES = {
    "no brief": {"model": "sketch"},
    "brief is null": {"brief": None},
    "brief is a string": {"brief": "A lighthouse"},
    "brief is a list": {"brief": [BRIEF]},
    "subject is a number": {"brief": {"subject": 123}},
    "subject is an object": {"brief": {"subject": {"$gt": ""}}},
    "subject over the limit": {"brief": {"subject": "x" * 4001}},
    "subject with a NUL": {"brief": {"subject": "A kite\u0000", "lighting": "Dusk"}},
    "subject with a lone surrogate": '{"brief": {"subject": "A kite \\ud800"}}',
    "n is a word": {"brief": BRIEF, "n": "many"},
    "n is zero": {"brief": BRIEF, "n": 0},
    "n is negative": {"brief": BRIEF, "n": -3},
    "n above the limit": {"brief": BRIEF, "n": 5},
    "n is huge": {"brief": BRIEF, "n": 10**30},
    "n is a fraction": {"brief": BRIEF, "n": 1.5},
    "n is infinite": '{"brief": {"subject": "A kite"}, "n": 1e999}',
    "unknown model": {"brief": BRIEF, "model": "nope"},
    "model over its limit": {"brief": BRIEF, "model": "m" * 65},
    "retired model": {"brief": BRIEF, "model": "gpt-image-1"},
    "aspect ratio 4:3": {"brief": BRIEF, "aspect_ratio": "4:3"},
    "aspect ratio as numbers": {"brief": BRIEF, "aspect_ratio": [1, 1]},
    "quality ultra": {"brief": BRIEF, "quality": "ultra"},
    "gallery is not a UUID": {"brief": BRIEF, "gallery": "not-a-uuid"},
    "gallery that does not exist": {"brief": BRIEF, "gallery": str(uuid.UUID(int=7))},
    "gallery is SQL": {"brief": BRIEF, "gallery": "' OR 1=1 --"},
    "not JSON": "{",
    "JSON nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "JSON null": "null",
    "JSON list": "[]",
    "empty body": "",
}


@pytest.mark.parametrize("case", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
def test_api_refuses_hostile_job_bodies(cast, case):
    body = HOSTILE_BODIES[case]
    raw = body if isinstance(body, str) else json.dumps(body)
    jobs, balance = Job.objects.count(), Team.objects.get(pk=cast.team.pk).credit_balance
    response = bearer(cast.editor).post("/api/v1/jobs", raw, content_type="application/json")
    assert 400 <= response.status_code < 500, (case, response.status_code, response.content)
    assert response.json()["detail"]
    assert nothing_charged(cast, jobs, balance), case


def test_api_ignores_fields_it_does_not_offer(cast):
    """Mass assignment: a client cannot set its own cost, status, team or owner."""
    body = {
        "brief": BRIEF,
        "model": "sketch",
        "quality": "low",
        "cost": 0,
        "status": "succeeded",
        "team": str(cast.other_team.pk),
        "created_by": cast.outsider.pk,
        "seed": -1,
    }
    response = bearer(cast.editor).post("/api/v1/jobs", body, content_type="application/json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.status, job.cost, job.team_id, job.created_by) == (
        "queued",
        1,
        cast.team.pk,
        cast.editor,
    )


HOSTILE_QUERIES = [
    "/api/v1/jobs/not-a-uuid",
    "/api/v1/jobs/%00",
    "/api/v1/jobs/..%2F..%2Fetc%2Fpasswd",
    "/api/v1/jobs/00000000-0000-0000-0000-000000000000",
    "/api/v1/versions/' OR 1=1 --",
    "/api/v1/galleries/{gallery}/assets?limit=-1",
    "/api/v1/galleries/{gallery}/assets?limit=0",
    "/api/v1/galleries/{gallery}/assets?limit=201",
    "/api/v1/galleries/{gallery}/assets?limit=abc",
    "/api/v1/galleries/{gallery}/assets?limit=" + "9" * 40,
    "/api/v1/galleries/{gallery}/assets?limit=1e3",
]


@pytest.mark.parametrize("url", HOSTILE_QUERIES)
def test_api_refuses_hostile_paths_and_queries(cast, gallery, url):
    response = bearer(cast.editor).get(url.format(gallery=gallery.pk))
    assert response.status_code in (400, 404, 422), (url, response.status_code)


def test_replayed_idempotency_key_with_another_body_is_refused(cast):
    """test_api covers a changed brief; a changed gallery, count or model is also another
    request, and a key belongs to its user."""
    client = bearer(cast.editor)
    Gallery.default_for(cast.team)  # where a job without a gallery goes
    second = Gallery.objects.create(team=cast.team, name="Second board")
    first_body = {"brief": BRIEF, "model": "sketch", "quality": "low"}
    key = {"HTTP_IDEMPOTENCY_KEY": "replay-1", "content_type": "application/json"}
    first = client.post("/api/v1/jobs", first_body, **key)
    assert first.status_code == 202
    for change in ({"gallery": str(second.pk)}, {"n": 2}, {"quality": "high"}):
        response = client.post("/api/v1/jobs", {**first_body, **change}, **key)
        assert response.status_code == 409, (change, response.content)
    assert client.post("/api/v1/jobs", first_body, **key).json()["id"] == first.json()["id"]
    # The same key from someone else is their own request, not a replay of ours.
    other = bearer(cast.owner).post("/api/v1/jobs", first_body, **key)
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert Job.objects.count() == 2


def test_idempotency_keys_with_control_characters_or_huge_length_do_not_break(cast):
    client = bearer(cast.editor)
    body = {"brief": BRIEF, "model": "sketch", "quality": "low"}
    for key in ("k" * 10_000, "\u202e\u0000evil", "line\r\nbreak"):
        response = client.post(
            "/api/v1/jobs", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
        )
        assert response.status_code in (202, 400), (key[:20], response.status_code)


def test_a_browser_session_cannot_call_the_api(cast):
    """The API takes bearer tokens only, so a cross-site page riding the session cookie
    (which CSRF protection would otherwise have to stop) gets nothing."""
    response = web(cast.editor).post(
        "/api/v1/jobs", {"brief": BRIEF}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not Job.objects.exists()


# --- CSRF -----------------------------------------------------------------------------------


def test_every_form_refuses_a_post_without_the_right_csrf_token(world, cast):
    """Every POST route the sweep knows, as its owner, with no token and with a forged one."""
    client = web(cast.owner, enforce_csrf_checks=True)
    client.get("/")  # sets the CSRF cookie, as a visit would
    tried, failures = 0, []
    for route in page_routes():
        page = PAGES.get(route.name)
        if page is None or "POST" not in page.methods:
            continue
        url = route.url(values_for(route, world)[0])
        for token in ("missing", "forged"):
            data = page.data(world) if page.data else {}
            if token == "forged":
                data = {**data, "csrfmiddlewaretoken": "x" * 64}
            answer = call(client, "POST", url, data)
            tried += 1
            if answer.status != 403 or answer.changed:
                failures.append((route.name, token, answer.status, answer.changed))
    assert tried >= 50
    assert not failures, failures


def test_csrf_protection_still_lets_a_real_form_through(cast, gallery):
    client = web(cast.editor, enforce_csrf_checks=True)
    client.get(f"/galleries/{gallery.pk}/")
    token = client.cookies["csrftoken"].value
    url = f"/galleries/{gallery.pk}/jobs/"
    assert client.post(url, {**GOOD_FORM, "csrfmiddlewaretoken": token}).status_code == 302
    assert Job.objects.count() == 1
    # htmx sends the token in a header, from the page's hx-headers.
    assert client.post(url, GOOD_FORM, HTTP_X_CSRFTOKEN=token).status_code == 302
    assert Job.objects.count() == 2


def test_login_and_signup_need_the_csrf_token_too(cast):
    client = Client(enforce_csrf_checks=True)
    login = client.post("/accounts/login/", {"username": "olivia", "password": "x"})
    signup = client.post(
        "/accounts/signup/",
        {"username": "mallory", "password1": "a fresh brief 42", "password2": "a fresh brief 42"},
    )
    assert login.status_code == signup.status_code == 403


# --- HTML and script, shown as text ---------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def live_markup(html: str) -> list[str]:
    """What a browser would run or load from the hostile text: inline scripts, event
    handler attributes, or the hostile <img>."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag == "script" and not attrs.get("src"):
            problems.append("inline <script>")
        problems += [f"<{tag} {name}=...>" for name in attrs if name.startswith("on")]
        if tag == "img" and attrs.get("src") == "x":
            problems.append("the hostile <img>")
    return problems


def assert_inert(html: str, *, shown: bool = True) -> None:
    assert not live_markup(html), live_markup(html)
    if shown:
        assert ESCAPED in html


def test_script_in_a_team_name_is_shown_as_text(cast):
    owner = web(cast.owner)
    owner.post(f"/accounts/teams/{cast.team.pk}/rename/", {"name": SCRIPT[:80]})
    team = Team.objects.get(pk=cast.team.pk)
    assert team.name == SCRIPT[:80]
    for url in (f"/accounts/teams/{team.pk}/", "/accounts/teams/"):
        html = owner.get(url).content.decode()
        assert_inert(html, shown=False)
        assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html
    # The team switcher in every page's header too.
    gallery = Gallery.default_for(team)
    assert_inert(owner.get(f"/galleries/{gallery.pk}/").content.decode(), shown=False)


def test_over_long_team_and_gallery_names_are_refused_or_cut(cast, gallery):
    owner = web(cast.owner)
    owner.post(f"/accounts/teams/{cast.team.pk}/rename/", {"name": "n" * 81})
    assert Team.objects.get(pk=cast.team.pk).name == "Acme Design"
    response = owner.post("/accounts/teams/new/", {"name": "n" * 10_000})
    assert response.status_code == 200 and Team.objects.count() == 2
    owner.post(f"/galleries/{gallery.pk}/new/", {"name": "g" * 10_000})
    assert max(len(g.name) for g in Gallery.objects.all()) <= 80


def test_script_in_a_brief_is_inert_in_pages_and_socket_fragments(cast, gallery):
    async def scenario():
        communicator, connected = await connect(cast.viewer, gallery)
        assert connected
        job = await sync_to_async(submit)(cast.editor, cast.team, subject=SCRIPT)
        fragments = [await communicator.receive_from(timeout=10)]
        runner = drain()
        await runner
        while not await communicator.receive_nothing(timeout=0.3):
            fragments.append(await communicator.receive_from(timeout=10))
        await communicator.disconnect()
        return job, fragments

    job, fragments = async_to_sync(scenario)()
    assert len(fragments) >= 3  # queued, progress..., finished
    for fragment in fragments:
        assert_inert(fragment, shown=False)
    assert any(ESCAPED in fragment for fragment in fragments)
    asset = Version.objects.get(job=job).asset
    viewer = web(cast.viewer)
    for url in (f"/galleries/{gallery.pk}/", f"/assets/{asset.pk}/"):
        assert_inert(viewer.get(url).content.decode())


def test_script_in_a_comment_and_review_is_inert_in_socket_fragments(cast, world):
    async def scenario():
        communicator, connected = await connect(cast.editor, world.gallery)
        assert connected

        def act():
            viewer = web(cast.viewer)
            viewer.post(f"/versions/{world.version.pk}/comments/", {"body": SCRIPT})
            Asset.objects.filter(pk=world.asset.pk).update(title=SCRIPT)
            web(cast.owner).post(f"/assets/{world.asset.pk}/status/", {"status": "approved"})

        await sync_to_async(act)()
        fragments = []
        while not await communicator.receive_nothing(timeout=0.3):
            fragments.append(await communicator.receive_from(timeout=10))
        await communicator.disconnect()
        return fragments

    fragments = async_to_sync(scenario)()
    assert len(fragments) >= 2, fragments
    for fragment in fragments:
        assert_inert(fragment, shown=False)
    assert sum("&lt;script&gt;" in fragment for fragment in fragments) >= 2
    assert_inert(web(cast.viewer).get(f"/assets/{world.asset.pk}/").content.decode())


def test_script_in_saved_brief_and_token_names_is_inert(cast, gallery):
    editor = web(cast.editor)
    editor.post(f"/galleries/{gallery.pk}/briefs/", {"name": SCRIPT, "subject": "A kite"})
    assert SavedBrief.objects.filter(name=SCRIPT[:80]).exists()
    assert_inert(editor.get(f"/galleries/{gallery.pk}/").content.decode(), shown=False)
    editor.post("/accounts/settings/tokens/", {"name": SCRIPT[:80]})
    assert_inert(editor.get("/accounts/settings/tokens/").content.decode(), shown=False)


# --- Forged and foreign ids in queries and bodies -------------------------------------------


def test_foreign_ids_in_queries_and_forms_reveal_nothing(cast, world):
    theirs = build_world(cast.outsider, cast.other_team, subject="Their secret lighthouse")
    editor = web(cast.editor)
    secret = theirs.source_version.prompt
    theirs_brief = SavedBrief.objects.create(
        team=cast.other_team, name="Secret", brief={"subject": "Their secret teapot"}
    )
    # A saved brief of another team is not filled in.
    html = editor.get(
        f"/galleries/{world.gallery.pk}/brief/fields/?preset=saved:{theirs_brief.pk}"
    ).content.decode()
    assert "Their secret teapot" not in html
    for garbage in ("saved:not-a-uuid", "saved:", "preset:../../etc/passwd", "x" * 5000):
        response = editor.get(f"/galleries/{world.gallery.pk}/brief/fields/?preset={garbage}")
        assert response.status_code == 200
    # Another team's version as the version to show, or as a side of a comparison.
    response = editor.get(f"/assets/{world.asset.pk}/?version={theirs.version.pk}")
    assert response.status_code == 404
    for query in (f"a={theirs.version.pk}", f"b={theirs.version.pk}", "a=garbage&b=%00"):
        response = editor.get(f"/assets/{world.asset.pk}/compare/?{query}")
        assert response.status_code in (200, 302, 400, 404)
        assert secret not in response.content.decode()
    # Another team's asset in a download selection is left out; garbage is refused.
    response = editor.post(
        f"/galleries/{world.gallery.pk}/download/", {"asset": [str(theirs.asset.pk)]}
    )
    assert response.status_code == 200
    assert response.content.count(b"PK\x01\x02") == 0  # no file in the archive
    for garbage in ("not-a-uuid", "' OR 1=1 --", "1"):
        response = editor.post(f"/galleries/{world.gallery.pk}/download/", {"asset": garbage})
        assert response.status_code in (302, 400, 404)
    # Another team's version as a reference of an edit.
    jobs = Job.objects.count()
    size = (world.version.width, world.version.height)
    for reference in (str(theirs.version.pk), "not-a-uuid"):
        response = editor.post(
            f"/versions/{world.version.pk}/edit/",
            {
                "change": "Add a kite",
                "model": "sketch",
                "quality": "low",
                "reference_versions": reference,
                "mask": SimpleUploadedFile("m.png", painted_mask(size, (0, 0, 99, 99))),
            },
        )
        assert 400 <= response.status_code < 500
    assert Job.objects.count() == jobs


OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "http:evil.example",
    "https:///evil.example",
]


def test_next_parameters_never_lead_off_site(cast, world):
    login = {"username": "vera", "password": "correct horse battery"}
    for i, target in enumerate(OFF_SITE):
        password = "a fresh brief 42"
        signup = {"username": f"nina{i}", "password1": password, "password2": password}
        answers = [
            Client().post(f"/accounts/signup/?next={target}", signup),
            web(cast.viewer).post(f"/assets/{world.asset.pk}/favourite/", {"next": target}),
            Client().post(f"/accounts/login/?next={target}", login),
        ]
        for response in answers:
            assert response.status_code == 302, (target, response.status_code)
            assert not _off_site(response["Location"]), (target, response["Location"])


def _off_site(location: str) -> bool:
    return bool(re.match(r"^(\w+:)?//|^\w+:", location)) and "testserver" not in location


GARBAGE_URLS = [
    "/galleries/not-a-uuid/",
    "/galleries/00000000-0000-0000-0000-000000000000/",
    "/assets/%00/",
    "/versions/00000000-0000-0000-0000-000000000000/original/",
    "/versions/{version}/..%2F..%2Fsecret_key/",
    "/versions/{version}/download/exe/",
    "/files/..%2F..%2Fvar/",
    "/files/" + "A" * 5000 + "/",
    "/s/" + "A" * 5000 + "/",
    "/accounts/invite/%00/",
    "/accounts/teams/{team}/members/99999999999999999999999/role/",
    "/static/..%2F..%2Fvar%2Fsecret_key",
    "/media/teams/",
]


def test_forged_and_garbage_urls_answer_404(cast, world):
    failures = []
    for url in GARBAGE_URLS:
        url = url.format(version=world.version.pk, team=cast.team.pk)
        for method in ("get", "post"):
            response = getattr(web(cast.owner), method)(url)
            if response.status_code not in (400, 404, 405):
                failures.append((method, url, response.status_code))
    assert not failures, failures


def test_host_header_injection_is_refused(cast, world):
    response = web(cast.owner).get(
        f"/api/v1/jobs/{world.job.pk}",
        HTTP_HOST="evil.example",
        HTTP_AUTHORIZATION=f"Bearer {world.bearer}",
    )
    assert response.status_code == 400  # not a download link pointing at evil.example


# --- Uploads: masks and reference images through the edit page ----------------------------


def _bytes(img: Image.Image, fmt: str) -> bytes:
    return encode(img, fmt)


def _gif() -> bytes:
    return _bytes(Image.new("P", (32, 32)), "GIF")


HOSTILE_MASKS = {
    "decompression bomb": lambda size: png_claiming_size(60_000, 60_000),
    "over the pixel limit": lambda size: png_claiming_size(8_000, 6_000),
    "truncated PNG": lambda size: painted_mask(size, (0, 0, 50, 50))[:300],
    "GIF named .png": lambda size: _gif(),
    "JPEG instead of PNG": lambda size: _bytes(noise(size), "JPEG"),
    "SVG with a script": lambda size: (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    ),
    "PDF": lambda size: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    "empty file": lambda size: b"",
    "wrong size": lambda size: painted_mask((size[0] // 2, size[1]), (0, 0, 10, 10)),
    "PNG signature then garbage": lambda size: b"\x89PNG\r\n\x1a\n" + b"\x00" * 500,
}


def edit_post(cast, world, **fields):
    size = (world.version.width, world.version.height)
    data = {
        "change": "Add a kite",
        "model": "sketch",
        "quality": "low",
        "mask": SimpleUploadedFile("mask.png", painted_mask(size, (0, 0, 50, 50)), "image/png"),
        **fields,
    }
    return web(cast.editor).post(f"/versions/{world.version.pk}/edit/", data)


def test_edit_page_refuses_hostile_masks(cast, world):
    size = (world.version.width, world.version.height)
    failures = []
    for case, make in HOSTILE_MASKS.items():
        jobs, balance = Job.objects.count(), Team.objects.get(pk=cast.team.pk).credit_balance
        mask = SimpleUploadedFile("mask.png", make(size), "image/png")
        response = edit_post(cast, world, mask=mask)
        if not 400 <= response.status_code < 500 or not nothing_charged(cast, jobs, balance):
            failures.append((case, response.status_code))
    assert not failures, failures


HOSTILE_REFERENCES = {
    "decompression bomb": lambda: png_claiming_size(60_000, 60_000),
    "truncated JPEG": lambda: _bytes(noise((64, 64)), "JPEG")[:400],
    "GIF named .jpg": _gif,
    "HTML named .jpg": lambda: b"<html><script>alert(1)</script></html>",
    "BMP": lambda: _bytes(noise((16, 16)), "BMP"),
    "TIFF": lambda: _bytes(noise((16, 16)), "TIFF"),
}


def test_edit_page_refuses_hostile_references(cast, world):
    failures = []
    for case, make in HOSTILE_REFERENCES.items():
        jobs = Job.objects.count()
        reference = SimpleUploadedFile("ref.jpg", make(), "image/jpeg")
        response = edit_post(cast, world, references=reference)
        if not 400 <= response.status_code < 500 or Job.objects.count() != jobs:
            failures.append((case, response.status_code))
    assert not failures, failures


def test_oversized_uploads_are_refused_by_their_size(cast, world, settings):
    settings.STUDIO_MAX_UPLOAD_BYTES = 2_000
    jobs = Job.objects.count()
    big = _bytes(noise((200, 200)), "PNG")
    assert len(big) > 2_000
    response = edit_post(cast, world, references=SimpleUploadedFile("big.png", big))
    assert response.status_code == 413
    assert Job.objects.count() == jobs


def test_too_many_reference_files_are_refused_before_reading(cast, world):
    tiny = _bytes(noise((8, 8)), "PNG")
    references = [SimpleUploadedFile(f"r{i}.png", tiny) for i in range(40)]
    assert edit_post(cast, world, references=references).status_code == 400
    assert Job.objects.count() == 3  # the world's own


def test_uploaded_references_are_stored_without_gps_or_any_metadata(cast, world):
    photo = SimpleUploadedFile("holiday.jpg", jpeg_with_gps(), "image/jpeg")
    response = edit_post(cast, world, references=photo)
    assert response.status_code == 302, response.content[:500]
    job = Job.objects.filter(kind="edit").latest("created_at")
    (stored,) = job.params["references"]
    with default_storage.open(stored) as handle:
        data = handle.read()
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert "exif" not in img.info and "xmp" not in img.info
    assert b"PhoneCo" not in data and b"GPS" not in data


HOSTILE_FEATHERS = ["-1", "65", "abc", "1e9", "8.5", "8; rm -rf /"]

HOSTILE_ITERATIONS = [
    ("variations", {"n": "-1"}),
    ("variations", {"n": "0"}),
    ("variations", {"n": "99999"}),
    ("variations", {"n": "abc"}),
    ("upscale", {"factor": "3"}),
    ("upscale", {"factor": "-2"}),
    ("upscale", {"factor": "1e9"}),
    ("upscale", {"factor": "64"}),
    ("promote", {"model": "nope"}),
    ("promote", {"model": "m" * 5000}),
]


def test_hostile_feathers_counts_and_models_are_refused(cast, world):
    failures = []
    for feather in HOSTILE_FEATHERS:
        jobs = Job.objects.count()
        response = edit_post(cast, world, feather=feather)
        if response.status_code != 400 or Job.objects.count() != jobs:
            failures.append(("feather", feather, response.status_code))
    for path, data in HOSTILE_ITERATIONS:
        jobs, balance = Job.objects.count(), Team.objects.get(pk=cast.team.pk).credit_balance
        response = web(cast.editor).post(f"/versions/{world.version.pk}/{path}/", data)
        if response.status_code >= 500 or not nothing_charged(cast, jobs, balance):
            failures.append((path, data, response.status_code))
    assert not failures, failures


def test_a_version_row_never_points_outside_its_team_folder(cast, world):
    """Stored names come from the studio, never from an uploaded file's name."""
    for version in Version.objects.all():
        for field in (version.image, version.thumbnail, version.mask):
            if field.name:
                assert field.name.startswith(f"teams/{version.team_id.hex}/")
                assert ".." not in field.name
