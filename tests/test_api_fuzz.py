"""Fuzz the JSON API from its own OpenAPI schema (schemathesis): whatever arrives, the
answer is never a server error.

Each operation gets a bounded, derandomized set of generated requests, valid and
invalid, sent with a real token in-process through Django's WSGI handler. Half of the
requests that name an object by a well-formed id are pointed at a real object of the
caller's team, so the fuzzing reaches past "not found" into the operation itself.
"""

import uuid
import zlib

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from accounts.models import ApiToken

from .world import World, build_world

pytestmark = pytest.mark.django_db(transaction=True)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def world(cast) -> World:
    return build_world(cast.owner, cast.team, cast.editor)


@pytest.fixture
def bearer(cast, world) -> str:
    _, token = ApiToken.issue(cast.editor, "fuzz")
    return token


def _well_formed(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def aim_at_real_objects(case, world: World) -> None:
    if zlib.crc32(repr((case.path_parameters, case.body)).encode()) % 2:
        return
    for name, value in (case.path_parameters or {}).items():
        if _well_formed(value):
            case.path_parameters[name] = world.values(name)[0]
    if isinstance(case.body, dict) and _well_formed(case.body.get("gallery")):
        case.body["gallery"] = str(world.gallery.pk)


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    # The cast and its token are made once per operation and shared by its examples.
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_with_a_server_error(case, bearer, world):
    aim_at_real_objects(case, world)
    response = case.call(headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code < 500, case.as_curl_command()
