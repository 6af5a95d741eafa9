"""Shared fixtures: the cast (two teams; an owner, an editor, a viewer, an outsider),
service gates, and the fake OpenAI server."""

import os
from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.models import ApiToken, Role, Team, User
from accounts.teams import create_team

from .factories import MembershipFactory, UserFactory

pytest_plugins = ["tests.fakes.plugin"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SERVICE_ENV = {
    "postgres": ("DATABASE_URL", "PostgreSQL"),
    "redis": ("REDIS_URL", "Redis"),
    "s3": ("STUDIO_S3_BUCKET", "S3"),
}


@pytest.fixture(scope="session", autouse=True)
def _s3_bucket():
    """When files go to S3, make sure the configured bucket exists on the test server."""
    from django.conf import settings

    if not settings.S3_BUCKET:
        return
    from .cluster import s3_client

    client = s3_client()
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if settings.S3_BUCKET not in existing:
        client.create_bucket(Bucket=settings.S3_BUCKET)


@pytest.fixture(autouse=True)
def _fresh_channel_layer_and_engines():
    """Channel layers and engine clients belong to one event loop; each test gets its own."""
    from channels.layers import channel_layers

    from studio.catalog import reset_registry
    from studio.engines import factory

    channel_layers.backends.clear()
    factory.reset()
    reset_registry()
    yield
    channel_layers.backends.clear()
    factory.reset()
    reset_registry()


@pytest.fixture
def openai_settings(settings, fake_openai):
    """The openai engine pointed at the fake server, with quick retries."""
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.OPENAI_TIMEOUT = 5
    settings.OPENAI_MAX_ATTEMPTS = 2
    settings.OPENAI_MAX_BACKOFF = 0.05
    return fake_openai


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is deliberately slow; tests sign users in by the hundred.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # The suite logs in and signs up far faster than a person; tests/test_throttle.py
    # turns throttling back on where it is the subject.
    settings.STUDIO_THROTTLE_ENABLED = False


@pytest.fixture(autouse=True)
def _require_services(request):
    """Service tests run when their environment is set; in CI a missing one is a failure."""
    for marker, (variable, service) in SERVICE_ENV.items():
        if request.node.get_closest_marker(marker) is None:
            continue
        value = os.environ.get(variable, "")
        if marker == "postgres" and not value.startswith("postgres"):
            value = ""
        if not value:
            message = f"{service} tests need {variable} set"
            if IN_CI:
                pytest.fail(f"CI must run this test: {message}", pytrace=False)
            pytest.skip(message)


@dataclass
class Cast:
    owner: User
    editor: User
    viewer: User
    outsider: User
    team: Team
    other_team: Team

    def client(self, user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client


@pytest.fixture
def cast(db) -> Cast:
    owner = UserFactory(username="olivia")
    team = create_team(owner, "Acme Design")
    editor = UserFactory(username="eddie")
    MembershipFactory(team=team, user=editor, role=Role.EDITOR)
    viewer = UserFactory(username="vera")
    MembershipFactory(team=team, user=viewer, role=Role.VIEWER)
    outsider = UserFactory(username="oscar")
    other_team = create_team(outsider, "Rival Studio")
    for user in (editor, viewer):
        user.current_team = team
        user.save()
    return Cast(owner, editor, viewer, outsider, team, other_team)


@pytest.fixture
def designer(transactional_db):
    """A user with a team, its gallery, a browser session and an API token: the
    multi-process tests (tests/cluster.py) act as this person."""
    user = UserFactory(username="dana")
    team = create_team(user, "Dana's team")
    from studio.models import Gallery

    gallery = Gallery.default_for(team)
    browser = Client()
    browser.force_login(user)
    _, token = ApiToken.issue(user, "multiprocess test")
    return user, team, gallery, browser.cookies["sessionid"].value, token
