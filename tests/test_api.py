"""The JSON API: tokens, jobs, brief checks, models, signed downloads."""

import urllib.parse
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken
from studio.models import Gallery, Job

from .pipeline import drain

pytestmark = pytest.mark.django_db(transaction=True)


def api(user=None, token=None) -> Client:
    if user is not None:
        _, token = ApiToken.issue(user, "tests")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client(**headers)


BRIEF = {"subject": "A lighthouse on a cliff", "lighting": "Stormy dusk", "frame": "Wide"}


def test_tokens_are_required_and_stored_hashed(cast):
    assert Client().get("/api/v1/models").status_code == 401
    assert api(token="stu_forged").get("/api/v1/models").status_code == 401
    _, token = ApiToken.issue(cast.editor, "ci")
    assert not ApiToken.objects.filter(token_hash=token).exists()
    assert api(token=token).get("/api/v1/models").status_code == 200


def test_revoked_token_is_refused(cast):
    api_token, token = ApiToken.issue(cast.editor, "ci")
    Client().force_login(cast.editor)
    web = Client()
    web.force_login(cast.editor)
    web.post(f"/accounts/settings/tokens/{api_token.pk}/revoke/")
    assert api(token=token).get("/api/v1/models").status_code == 401


def test_createtoken_command_prints_a_working_token(cast, capsys):
    call_command("createtoken", "eddie")
    token = capsys.readouterr().out.strip()
    assert token.startswith("stu_")
    assert api(token=token).get("/api/v1/models").status_code == 200


def test_create_job_then_follow_it_to_its_versions(cast):
    client = api(cast.editor)
    response = client.post(
        "/api/v1/jobs",
        {"brief": BRIEF, "aspect_ratio": "9:16", "n": 2},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "status", "cost"}
    assert body["status"] == "queued" and body["cost"] == 2
    async_to_sync(drain)()
    job = client.get(f"/api/v1/jobs/{body['id']}").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["error"] == ""
    assert [(v["width"], v["height"]) for v in job["versions"]] == [(864, 1536)] * 2
    # The download URL is signed: it works without any session or token.
    download_url = job["versions"][0]["download_url"]
    url = urllib.parse.urlsplit(download_url)
    if url.netloc == "testserver":
        download = Client().get(f"{url.path}?{url.query}" if url.query else url.path)
        assert download.status_code == 200
        content = b"".join(download.streaming_content)
    else:  # a presigned S3 URL
        with urllib.request.urlopen(download_url) as response:
            content = response.read()
    assert content.startswith(b"\x89PNG")
    version = client.get(f"/api/v1/versions/{job['versions'][0]['id']}").json()
    assert version["brief"]["subject"] == BRIEF["subject"]
    assets = client.get(f"/api/v1/galleries/{Gallery.default_for(cast.team).pk}/assets").json()
    assert len(assets) == 2


def test_forged_signed_link_is_refused(cast):
    assert Client().get("/files/not-a-real-token/").status_code == 404


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"brief": {"frame": "Wide"}}, "brief.subject"),
        ({"brief": BRIEF, "n": 0}, "n"),
        ({"brief": BRIEF, "n": "many"}, "n"),
        ({"brief": BRIEF, "aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"brief": {"subject": "x" * 5000}}, "brief.subject"),
    ],
)
def test_invalid_payloads_name_the_field(cast, payload, field):
    response = api(cast.editor).post("/api/v1/jobs", payload, content_type="application/json")
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["detail"]]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "payload, status, field",
    [
        ({"brief": BRIEF, "model": "nope"}, 400, "model"),
        ({"brief": BRIEF, "quality": "ultra"}, 400, "quality"),
        ({"brief": {"subject": "   "}}, 400, "subject"),
    ],
)
def test_refused_requests_name_the_field(cast, payload, status, field):
    response = api(cast.editor).post("/api/v1/jobs", payload, content_type="application/json")
    assert response.status_code == status
    assert response.json()["detail"][0]["field"] == field


def test_idempotency_key(cast):
    client = api(cast.editor)
    kwargs = {"content_type": "application/json", "HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = client.post("/api/v1/jobs", {"brief": BRIEF}, **kwargs)
    again = client.post("/api/v1/jobs", {"brief": BRIEF}, **kwargs)
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/api/v1/jobs", {"brief": {"subject": "Else"}}, **kwargs)
    assert other.status_code == 409
    assert Job.objects.count() == 1


def test_other_teams_objects_answer_404(cast):
    job_id = (
        api(cast.editor)
        .post("/api/v1/jobs", {"brief": BRIEF}, content_type="application/json")
        .json()["id"]
    )
    outsider = api(cast.outsider)
    assert outsider.get(f"/api/v1/jobs/{job_id}").status_code == 404
    gallery = Gallery.default_for(cast.team)
    assert outsider.get(f"/api/v1/galleries/{gallery.pk}/assets").status_code == 404
    response = outsider.post(
        "/api/v1/jobs",
        {"brief": BRIEF, "gallery": str(gallery.pk)},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_viewer_cannot_create_jobs(cast):
    gallery = Gallery.default_for(cast.team)
    response = api(cast.viewer).post(
        "/api/v1/jobs",
        {"brief": BRIEF, "gallery": str(gallery.pk)},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_brief_check_is_free(cast):
    response = api(cast.editor).post(
        "/api/v1/briefs/check", {"subject": "A nice cat"}, content_type="application/json"
    )
    body = response.json()
    assert body["prompt"] == "A nice cat."
    codes = {finding["code"] for finding in body["findings"]}
    assert {"missing_lighting", "vague_words"} <= codes
    assert set(body["findings"][0]) == {"field", "severity", "code", "hint"}


def test_models_list_costs_and_lifecycle(cast):
    models = {m["key"]: m for m in api(cast.editor).get("/api/v1/models").json()}
    assert models["gpt-image-1"]["status"] == "retired" and not models["gpt-image-1"]["usable"]
    assert models["gpt-image-1-mini"]["shutdown"] == "2026-12-01"
    assert models["sketch"]["usable"]
    assert models["gpt-image-1-mini"]["credits"]["low"] == [1, 2]


def test_openapi_schema_is_served(cast):
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/jobs" in schema["paths"]
