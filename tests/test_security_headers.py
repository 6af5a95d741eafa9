"""Security headers on every page, and markup the Content-Security-Policy can keep:
no inline script, no event-handler or style attributes, no inline <style>.

The CSP allows scripts and styles from our own origin only ('self'), so anything
inline would be blocked by the browser: the page would silently break. These tests
keep every page, every template and every live fragment within the policy.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from studio import live

from .test_authorization_sweep import PAGES, page_routes, values_for
from .world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATES = Path(settings.BASE_DIR) / "templates"


class _Markup(HTMLParser):
    """Collects what a strict CSP would block in a piece of HTML."""

    def __init__(self):
        super().__init__()
        self.blocked: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src"):
            self.blocked.append("inline <script>")
        if tag == "style":
            self.blocked.append("inline <style>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=…>")
            if name == "style":
                self.blocked.append(f"<{tag} style=…>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:…>")


def blocked_by_csp(html: str) -> list[str]:
    parser = _Markup()
    parser.feed(html)
    return parser.blocked


def test_every_page_keeps_to_the_content_security_policy(cast):
    world = build_world(cast.owner, cast.team, cast.editor)
    owner = Client()
    owner.force_login(cast.owner)
    checked, problems = 0, []
    for route in page_routes():
        page = PAGES.get(route.name)
        if page is None or "GET" not in page.methods:
            continue
        for values in values_for(route, world):
            url = route.url(values)
            response = owner.get(url)
            csp = response.headers.get("Content-Security-Policy", "")
            if "script-src 'self'" not in csp or "unsafe" in csp:
                problems.append(f"{url}: CSP {csp!r}")
            if response.get("Content-Type", "").startswith("text/html"):
                checked += 1
                problems += [f"{url}: {b}" for b in blocked_by_csp(response.content.decode())]
            response.close()
    assert checked >= 15
    assert not problems, problems


def test_templates_have_no_inline_script_handlers_or_styles():
    """Checked in the source too, so a template no test renders is held to it as well."""
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        # Template tags are not markup: stand a plain word in for each before parsing.
        markup = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "tag", text, flags=re.S)
        problems += [f"{path.relative_to(TEMPLATES)}: {b}" for b in blocked_by_csp(markup)]
    assert not problems, problems


def test_live_fragments_keep_to_the_policy(cast):
    world = build_world(cast.owner, cast.team, cast.editor)
    from studio import events

    payloads = [
        events.job_payload(kind, live.job_view(world.queued_job))
        for kind in (events.JOB_QUEUED, events.JOB_STARTED, events.JOB_PROGRESS)
    ]
    payloads.append(events.job_payload(events.JOB_SUCCEEDED, live.job_view(world.job)))
    view = live.asset_view(world.asset, world.version, created_by="olivia")
    payloads.append(events.version_payload(view, str(world.job.pk)))
    payloads.append(events.comment_payload(live.comment_view(world.comment)))
    for payload in payloads:
        html = live.render(payload)
        assert html.strip()
        assert not blocked_by_csp(html), (payload["type"], blocked_by_csp(html))


def test_headers_on_a_page(client):
    response = client.get("/accounts/login/")
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, directive
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_htmx_is_configured_to_fit_the_policy(client):
    html = client.get("/accounts/login/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html)
    assert config, "htmx reads its configuration from a meta tag"
    for setting in (
        '"allowEval": false',
        '"allowScriptTags": false',
        '"includeIndicatorStyles": false',
    ):
        assert setting in config[1]


def test_cookies_are_http_only_and_same_site(cast):
    client = Client()
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/", {"username": "olivia", "password": "correct horse battery"}
    )
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert client.cookies["csrftoken"]["samesite"] == "Lax"


@pytest.mark.skipif(bool(settings.S3_BUCKET), reason="S3 serves the bytes itself")
def test_file_responses_are_private_and_not_sniffed(cast):
    world = build_world(cast.owner, cast.team, cast.editor)
    viewer = Client()
    viewer.force_login(cast.viewer)
    for kind, content_type in (("original", "image/png"), ("thumb", "image/webp")):
        response = viewer.get(f"/versions/{world.version.pk}/{kind}/")
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "private" in response["Cache-Control"]
        response.close()
