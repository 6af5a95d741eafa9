"""Throttling on the doors people knock on: log in, sign up, invitations, generating.

conftest turns throttling off for the rest of the suite; here it is on, with small
rates and a cache of each test's own (a fresh key prefix, on Redis as on locmem).
"""

import copy
import uuid

import pytest
from django.test import Client

from accounts import throttle
from accounts.models import ApiToken, User
from studio.models import Gallery, Job

pytestmark = pytest.mark.django_db

BRIEF = {"subject": "A lighthouse on a cliff", "lighting": "Stormy dusk"}
FORM = {
    "subject": "A red kite",
    "lighting": "Low sun",
    "model": "sketch",
    "aspect_ratio": "1:1",
    "quality": "low",
    "n": "1",
}


class Clock:
    """The throttle's clock, stopped 40 s into a minute: a fixed window must not roll over
    between a test's requests (it once did in CI, at the turn of a minute)."""

    def __init__(self):
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    stopped = Clock()
    monkeypatch.setattr(throttle, "time", stopped)
    return stopped


@pytest.fixture
def throttling(settings, clock):
    settings.STUDIO_THROTTLE_ENABLED = True
    settings.STUDIO_THROTTLE_RATES = {
        "login": "3/m",
        "signup": "2/h",
        "invite": "3/h",
        "generate": "2/m",
    }
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"throttle-test-{uuid.uuid4().hex}"
    if "locmem" in caches["default"]["BACKEND"]:
        caches["default"]["LOCATION"] = uuid.uuid4().hex
    settings.CACHES = caches
    return settings


def from_address(address: str, **headers) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def test_rates_read_like_ten_a_minute():
    assert throttle.Rate.parse("10/m") == throttle.Rate(10, 60)
    assert throttle.Rate.parse("100/5m") == throttle.Rate(100, 300)
    assert throttle.Rate.parse(" 3 / hour ") == throttle.Rate(3, 3600)
    assert throttle.Rate.parse("1/d") == throttle.Rate(1, 86400)
    for bad in ("ten/m", "10/fortnight", "0/m", "10", "", "10/0m", "-1/m"):
        with pytest.raises(ValueError):
            throttle.Rate.parse(bad)


def test_login_attempts_are_limited_per_address(throttling, cast):
    attacker = from_address("203.0.113.7")
    wrong = {"username": "olivia", "password": "guess"}
    for _ in range(3):
        assert attacker.post("/accounts/login/", wrong).status_code == 200
    refused = attacker.post("/accounts/login/", wrong)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many attempts" in refused.content.decode()
    # Even the right password waits: the door is shut for this address for now.
    right = {"username": "olivia", "password": "correct horse battery"}
    assert attacker.post("/accounts/login/", right).status_code == 429
    # Looking at the form is not an attempt; another address is not affected.
    assert attacker.get("/accounts/login/").status_code == 200
    assert from_address("198.51.100.2").post("/accounts/login/", right).status_code == 302


def test_a_forged_forwarded_for_header_does_not_reset_the_count(throttling, cast):
    wrong = {"username": "olivia", "password": "guess"}
    statuses = [
        Client(REMOTE_ADDR="203.0.113.8", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
        .post("/accounts/login/", wrong)
        .status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(throttling, cast):
    throttling.STUDIO_NUM_PROXIES = 1
    wrong = {"username": "olivia", "password": "guess"}

    def attempt(client_address):
        proxy = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}")
        return proxy.post("/accounts/login/", wrong).status_code

    assert [attempt("192.0.2.10") for _ in range(4)] == [200, 200, 200, 429]
    assert attempt("192.0.2.11") == 200  # another client behind the same proxy


def test_signups_are_limited_per_address(throttling):
    client = from_address("203.0.113.9")
    statuses = []
    for i in range(3):
        password = "a fresh brief 42"
        data = {"username": f"bot{i}", "password1": password, "password2": password}
        statuses.append(client.post("/accounts/signup/", data).status_code)
        client.logout()
    assert statuses == [302, 302, 429]
    assert User.objects.filter(username__startswith="bot").count() == 2


def test_guessing_invitation_tokens_is_limited(throttling, cast):
    client = from_address("203.0.113.10")
    statuses = [client.get(f"/accounts/invite/guess-{i}/").status_code for i in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_generating_from_the_page_is_limited_per_user(throttling, cast):
    gallery = Gallery.default_for(cast.team)
    url = f"/galleries/{gallery.pk}/jobs/"
    editor = Client()
    editor.force_login(cast.editor)
    statuses = [editor.post(url, FORM, HTTP_HX_REQUEST="true").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert Job.objects.count() == 2
    owner = Client()
    owner.force_login(cast.owner)
    assert owner.post(url, FORM).status_code == 302  # the owner has their own count
    assert Job.objects.count() == 3


def test_generating_through_the_api_is_limited_per_user(throttling, cast):
    _, token = ApiToken.issue(cast.editor, "ci")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    responses = [
        client.post("/api/v1/jobs", {"brief": BRIEF}, content_type="application/json")
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [202, 202, 429]
    refused = responses[-1]
    assert "Too many requests" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert Job.objects.count() == 2
    # Reading is not limited, and the page form shares the same count.
    assert client.get(f"/api/v1/jobs/{responses[0].json()['id']}").status_code == 200
    web = Client()
    web.force_login(cast.editor)
    gallery = Gallery.default_for(cast.team)
    assert web.post(f"/galleries/{gallery.pk}/jobs/", FORM).status_code == 429


def test_the_window_passes(throttling, cast, clock):
    client = from_address("203.0.113.11")
    wrong = {"username": "olivia", "password": "guess"}
    assert [client.post("/accounts/login/", wrong).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    clock.now += 60
    assert client.post("/accounts/login/", wrong).status_code == 200


def test_throttling_can_be_switched_off(throttling, cast):
    throttling.STUDIO_THROTTLE_ENABLED = False
    client = from_address("203.0.113.12")
    wrong = {"username": "olivia", "password": "guess"}
    assert {client.post("/accounts/login/", wrong).status_code for _ in range(6)} == {200}


def test_with_the_cache_unreachable_requests_go_through_and_the_log_says_why(
    throttling, cast, caplog
):
    """Redis down must not take logins and generating down with it: the limits pause."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    throttling.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    gallery = Gallery.default_for(cast.team)
    editor = Client()
    editor.force_login(cast.editor)
    url = f"/galleries/{gallery.pk}/jobs/"
    statuses = [editor.post(url, FORM, HTTP_HX_REQUEST="true").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # over the 2/m limit, yet not refused
    assert Job.objects.count() == 3
    assert "Rate limits unavailable" in caplog.text
