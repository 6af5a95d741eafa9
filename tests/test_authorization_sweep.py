"""The authorization sweep: every URL, every API operation and every WebSocket route,
tried as anonymous, an outsider (owner of another team), a viewer, an editor and an owner.

Routes added later are swept automatically. Their parameters are filled by name from
tests/world.py (an unknown name fails loudly). What each route may do is listed in
PAGES and OPERATIONS below; a route missing there is still swept with the generic
rules, then fails with a message asking for its entry.

The rules:
- anonymous: pages redirect to the login page, the API answers 401, sockets close;
- outsider: every object of another team answers 404, exactly as a forged id does
  (never 403, never 200); nothing changes;
- a member below the role an action needs gets 403 (404 for another user's own
  object) and nothing changes; a member with the role gets neither 403 nor 404;
- nothing ever answers 500.
"""

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from accounts.models import ApiToken, User
from studio.routing import websocket_urlpatterns

from .world import World, build_world, painted_mask

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("anonymous", "outsider", "viewer", "editor", "owner")
RANK = {"viewer": 0, "editor": 1, "owner": 2}
# URL parameters that are not an object's id.
NOT_OBJECTS = {"kind", "fmt", "token", "uidb64"}
# Changes that are not "team data": bookkeeping on every request.
VOLATILE = {"accounts.user": {"last_login"}, "accounts.apitoken": {"last_used_at"}}


# --- What each page may do --------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Expectations for one named URL.

    methods: what it answers (a POST-only URL answers GET with 405; a GET-only one may
    answer a POST but must change nothing). view: the least role that may GET it.
    post: the least role whose POST is allowed
    (None: no POST). data: a POST body that really acts, so "nothing changed" for the
    roles below means something; changes: models the least allowed role's POST changes.
    public / capability: why no login is needed (capability: the URL itself is the key).
    """

    methods: tuple[str, ...] = ("GET",)
    view: str = "viewer"  # the least role that may GET it
    post: str | None = None
    data: Callable[[World], dict] | None = None
    changes: tuple[str, ...] = ()
    public: str = ""
    capability: str = ""


def generate_form(world: World) -> dict:
    return {
        "subject": "A red kite over a grey sea",
        "lighting": "Low winter sun from the left",
        "frame": "Wide shot, kite on the upper third",
        "style": "Watercolour",
        "model": "sketch",
        "aspect_ratio": "1:1",
        "quality": "low",
        "n": "1",
    }


def edit_form(world: World) -> dict:
    size = (world.version.width, world.version.height)
    mask = painted_mask(size, (0, 0, size[0] // 3, size[1] // 3))
    return {
        "change": "Add a kite in the sky",
        "model": "sketch",
        "quality": "low",
        "mask": SimpleUploadedFile("mask.png", mask, "image/png"),
    }


GET = ("GET",)
POST = ("POST",)
BOTH = ("GET", "POST")

PAGES: dict[str, Page] = {
    # Studio
    "studio:home": Page(),
    "studio:gallery": Page(),
    "studio:submit": Page(
        POST, post="editor", data=generate_form, changes=("Job", "CreditEntry", "Team")
    ),
    "studio:brief_feedback": Page(POST, post="viewer", data=generate_form),  # saves nothing
    "studio:brief_fields": Page(),
    "studio:save_brief": Page(
        POST,
        post="editor",
        data=lambda w: {"name": "Kite", "subject": "A red kite"},
        changes=("SavedBrief",),
    ),
    "studio:gallery_create": Page(
        POST, post="editor", data=lambda w: {"name": "Second board"}, changes=("Gallery",)
    ),
    "studio:gallery_rename": Page(
        POST, post="editor", data=lambda w: {"name": "Renamed board"}, changes=("Gallery",)
    ),
    "studio:gallery_archive": Page(POST, post="editor", changes=("Gallery",)),
    # A zip of the selection: reading, which viewers may do.
    "studio:download_selection": Page(
        POST, post="viewer", data=lambda w: {"asset": [str(w.asset.pk)]}
    ),
    "studio:share_gallery": Page(POST, post="editor", changes=("ShareLink",)),
    "studio:asset": Page(),
    "studio:compare": Page(),
    "studio:set_status": Page(
        POST,
        post="editor",
        data=lambda w: {"status": "approved"},
        changes=("Asset", "ReviewEvent"),
    ),
    "studio:favourite": Page(POST, post="viewer", changes=("Favourite",)),  # viewers may
    "studio:share_asset": Page(POST, post="editor", changes=("ShareLink",)),
    "studio:restore": Page(POST, post="editor", changes=("Asset",)),
    "studio:comment": Page(  # viewers may comment
        POST, post="viewer", data=lambda w: {"body": "Lovely light"}, changes=("Comment",)
    ),
    "studio:download": Page(),
    "studio:edit": Page(
        BOTH,
        view="editor",
        post="editor",
        data=edit_form,
        changes=("Job", "CreditEntry", "Team"),
    ),
    "studio:edit_cost": Page(view="editor"),
    "studio:variations": Page(
        POST, post="editor", data=lambda w: {"n": "1"}, changes=("Job", "CreditEntry", "Team")
    ),
    "studio:upscale": Page(
        POST,
        post="editor",
        data=lambda w: {"factor": "2"},
        changes=("Job", "CreditEntry", "Team"),
    ),
    # Offline, no better model is usable, so the owner's promote is refused (400) politely.
    "studio:promote": Page(POST, post="editor", data=lambda w: {"model": "gpt-image-1.5"}),
    "studio:version_file": Page(),
    "studio:signed_file": Page(capability="a signed, expiring download link"),
    "studio:share_revoke": Page(POST, post="editor", changes=("ShareLink",)),
    "studio:shared": Page(capability="a read-only share link"),
    "studio:shared_file": Page(capability="a file of a read-only share link"),
    # Accounts (Django's)
    "login": Page(BOTH, post="viewer", public="the way in"),
    "logout": Page(POST, post="viewer", public="logging out is always allowed"),
    "password_change": Page(BOTH, post="viewer"),  # the user's own password
    "password_change_done": Page(),
    "password_reset": Page(BOTH, post="viewer", public="for those who forgot"),
    "password_reset_done": Page(public="for those who forgot"),
    "password_reset_confirm": Page(BOTH, post="viewer", public="the emailed reset link"),
    "password_reset_complete": Page(public="for those who forgot"),
    # Accounts (ours)
    "accounts:signup": Page(BOTH, post="viewer", public="the way in for new people"),
    "accounts:team_list": Page(),
    "accounts:team_create": Page(  # anyone may start a team of their own
        BOTH,
        post="viewer",
        data=lambda w: {"name": "Side project"},
        changes=("Team", "Membership", "CreditEntry"),
    ),
    "accounts:team_detail": Page(),
    "accounts:team_rename": Page(
        POST, post="owner", data=lambda w: {"name": "Renamed team"}, changes=("Team",)
    ),
    "accounts:team_switch": Page(POST, post="viewer"),  # the user's own working team
    "accounts:team_leave": Page(POST, post="viewer", changes=("Membership",)),  # anyone may
    "accounts:invite_create": Page(
        POST, post="owner", data=lambda w: {"role": "viewer"}, changes=("Invitation",)
    ),
    "accounts:invite_revoke": Page(POST, post="owner", changes=("Invitation",)),
    "accounts:member_role": Page(
        POST, post="owner", data=lambda w: {"role": "viewer"}, changes=("Membership",)
    ),
    "accounts:member_remove": Page(POST, post="owner", changes=("Membership",)),
    "accounts:invite_accept": Page(BOTH, post="viewer", capability="an invitation link"),
    "accounts:api_tokens": Page(  # tokens are the user's own
        BOTH, post="viewer", data=lambda w: {"name": "ci"}, changes=("ApiToken",)
    ),
    # The owner's own token: anyone else gets 404.
    "accounts:api_token_revoke": Page(POST, post="owner", changes=("ApiToken",)),
    "healthz": Page(public="probed by load balancers; reports no data"),
}

# Route-specific values where the parameter's name alone is not enough.
ROUTE_VALUES = {
    # Restoring the current version changes nothing; restore its parent.
    ("studio:restore", "version_id"): lambda w: w.source_version.pk,
}

# URLs under the API's prefix that are not operations of the OpenAPI schema.
API_NON_OPERATIONS = {
    "api:openapi-json": "the schema is public, like the docs",
    "api:openapi-view": "the interactive docs, public",
    "api:api-root": "the API root, public",
}


# --- What each API operation may do ---------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    role: str  # the least role allowed
    body: Callable[[World], dict] | None = None
    changes: tuple[str, ...] = ()
    # Acts on an object of the team named in the body (path parameters always do).
    team_body: bool = False


def job_body(world: World) -> dict:
    return {
        "brief": {"subject": "A lighthouse on a cliff", "lighting": "Stormy dusk"},
        "model": "sketch",
        "quality": "low",
        "gallery": str(world.gallery.pk),
    }


OPERATIONS: dict[str, Operation] = {
    "POST /api/v1/jobs": Operation(
        "editor", job_body, changes=("Job", "CreditEntry", "Team"), team_body=True
    ),
    "GET /api/v1/jobs/{job_id}": Operation("viewer"),
    "POST /api/v1/briefs/check": Operation("viewer", lambda w: {"subject": "A cat"}),
    "GET /api/v1/galleries/{gallery_id}/assets": Operation("viewer"),
    "GET /api/v1/versions/{version_id}": Operation("viewer"),
    "GET /api/v1/models": Operation("viewer"),
}


# --- Enumerating routes --------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str  # "galleries/<uuid:gallery_id>/"
    name: str  # "studio:gallery"
    params: tuple[tuple[str, str], ...]  # (converter, name)

    @property
    def object_params(self) -> list[str]:
        return [name for _, name in self.params if name not in NOT_OBJECTS]

    def url(self, values: dict[str, str]) -> str:
        def fill(match):
            return str(values[match["name"]])

        return "/" + re.sub(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>", fill, self.pattern)


def _walk(patterns, prefix="", namespace="") -> Iterator[Route]:
    for entry in patterns:
        if prefix.startswith("admin/") or str(entry.pattern).startswith("admin/"):
            continue  # Django's admin: staff only, and its own tests
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            inner = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            if not isinstance(entry.pattern, RoutePattern):
                raise AssertionError(
                    f"The sweep reads path() routes; teach it this re_path(): {entry.pattern}"
                )
            route = prefix + str(entry.pattern)
            params = tuple(
                (m["conv"] or "str", m["name"])
                for m in re.finditer(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>", route)
            )
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(route, name or "", params)


def all_routes() -> list[Route]:
    seen, routes = set(), []
    for route in _walk(get_resolver().url_patterns):
        if route.pattern in seen:  # the first pattern answers, as in resolving
            continue
        seen.add(route.pattern)
        routes.append(route)
    return routes


def api_prefix() -> str:
    return resolve_url("api:api-root").lstrip("/")


def page_routes() -> list[Route]:
    skip = ("admin/", settings.STATIC_URL.lstrip("/"), api_prefix())
    return [r for r in all_routes() if not r.pattern.startswith(skip)]


# --- Requests, roles and the database ------------------------------------------------------


@dataclass
class Cast:
    world: World
    users: dict[str, User | None]
    team_cast: object  # tests/conftest.py's cast
    findings: list[str] = field(default_factory=list)

    @cached_property
    def other(self) -> World:
        """The outsider's own team, fully populated (built when a test first asks)."""
        return build_world(self.team_cast.outsider, self.team_cast.other_team)

    def client(self, role: str) -> Client:
        client = Client(raise_request_exception=False)
        if self.users[role] is not None:
            client.force_login(self.users[role])
        return client

    def bearer(self, role: str) -> Client:
        user = self.users[role]
        if user is None:
            return Client(raise_request_exception=False)
        _, token = ApiToken.issue(user, "sweep")
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")

    def fail(self, where: str, message: str) -> None:
        self.findings.append(f"{where}: {message}")


@pytest.fixture
def sweep(cast) -> Cast:
    world = build_world(cast.owner, cast.team, cast.editor)
    users = {
        "anonymous": None,
        "outsider": cast.outsider,
        "viewer": cast.viewer,
        "editor": cast.editor,
        "owner": cast.owner,
    }
    return Cast(world, users, cast)


def _snapshot_queries() -> list[tuple[str, str]]:
    queries = []
    for model in apps.get_models():
        if model._meta.app_label not in ("accounts", "studio"):
            continue
        skip = VOLATILE.get(model._meta.label_lower, set())
        columns = [f.column for f in model._meta.concrete_fields if f.attname not in skip]
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(model._meta.db_table)} "
            f"ORDER BY {quote(model._meta.pk.column)}"
        )
        queries.append((model.__name__, sql))
    return queries


def snapshot() -> dict[str, int]:
    """A fingerprint of every row of our apps' tables, per model (raw SQL: it runs
    twice per request of the sweep)."""
    state = {}
    with connection.cursor() as cursor:
        for name, sql in _snapshot_queries():
            cursor.execute(sql)
            state[name] = hash(repr(cursor.fetchall()))
    return state


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name in after if before.get(name) != after[name]}


@contextmanager
def rolled_back():
    """Every role meets the same world: what a request changes is undone after it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass
class Answer:
    status: int
    location: str
    changed: set[str]


def call(client: Client, method: str, url: str, data=None, *, json=False) -> Answer:
    with rolled_back():
        before = snapshot()
        if method == "GET":
            response = client.get(url)
        elif json:
            response = client.generic(
                method, url, _json(data or {}), content_type="application/json"
            )
        else:
            response = client.post(url, data or {})
        after = snapshot()
    location = response.get("Location", "")
    response.close()
    return Answer(response.status_code, location, changed(before, after))


def _json(data) -> str:
    import json

    return json.dumps(data)


def forged(route: Route, values: dict[str, str]) -> dict[str, str]:
    """The same URL with every object id replaced by one that exists nowhere."""
    forged_values = dict(values)
    for converter, name in route.params:
        if name in NOT_OBJECTS:
            continue
        forged_values[name] = str(uuid.uuid4()) if converter == "uuid" else "2147483647"
    return forged_values


def values_for(route: Route, world: World) -> list[dict[str, str]]:
    """Every combination of parameter values to try (a file route tries each kind)."""
    choices = []
    for _, name in route.params:
        if (route.name, name) in ROUTE_VALUES:
            choices.append([str(ROUTE_VALUES[route.name, name](world))])
        else:
            choices.append(world.values(name, route.name))
    return [
        dict(zip([name for _, name in route.params], combo, strict=True))
        for combo in itertools.product(*choices)
    ]


def is_login_redirect(answer: Answer) -> bool:
    return answer.status == 302 and answer.location.startswith(resolve_url(settings.LOGIN_URL))


# --- The page sweep ------------------------------------------------------------------------


def sweep_page(cast: Cast, route: Route, page: Page | None) -> None:
    generic = page is None
    page = page or Page(BOTH, post=None)
    open_route = page.public or page.capability
    for values in values_for(route, cast.world):
        url = route.url(values)
        forged_url = route.url(forged(route, values))
        for role in ROLES:
            client = cast.client(role)
            for method in ("GET", "POST"):
                where = f"{method} {url} ({route.name or 'unnamed'}) as {role}"
                data = page.data(cast.world) if page.data else {}
                answer = call(client, method, url, data)
                if answer.status >= 500:
                    cast.fail(where, f"answered {answer.status}")
                    continue
                if role == "anonymous":
                    if not open_route and not is_login_redirect(answer):
                        cast.fail(where, f"answered {answer.status}, not a login redirect")
                    if answer.changed and not open_route:
                        cast.fail(where, f"changed {sorted(answer.changed)}")
                    continue
                if role == "outsider":
                    if route.object_params and not page.capability:
                        data = page.data(cast.world) if page.data else {}
                        _check_outsider(cast, client, method, url, forged_url, data, where, answer)
                    continue
                if page.capability:
                    continue  # the URL is the key: members are no different from anyone
                _check_member(cast, page, role, method, answer, where, generic)
    if generic:
        cast.fail(
            route.name or route.pattern,
            "is not listed in PAGES in tests/test_authorization_sweep.py: say which methods "
            "it answers and the least role allowed to POST (and a body that really acts)",
        )


def _check_outsider(cast, client, method, url, forged_url, data, where, answer):
    if answer.changed:
        cast.fail(where, f"changed {sorted(answer.changed)}")
    if answer.status == 403:
        cast.fail(where, "answered 403: that tells an outsider the object exists")
    elif answer.status not in (404, 405):
        cast.fail(where, f"answered {answer.status} to an outsider, not 404")
    else:
        control = call(client, method, forged_url, data)
        if control.status != answer.status:
            cast.fail(
                where,
                f"answered {answer.status} for a real object, {control.status} for a forged id",
            )


def _check_member(cast, page, role, method, answer, where, generic):
    if method not in page.methods:
        # A GET must never act: a POST-only URL refuses it. A page that ignores a POST's
        # body may show itself; it must not change anything.
        if method == "GET" and not generic and answer.status != 405:
            cast.fail(where, f"answered {answer.status}, expected 405 for {method}")
        if answer.changed:
            cast.fail(where, f"changed {sorted(answer.changed)}")
        return
    if method == "GET":
        may_view = RANK[role] >= RANK[page.view]
        if may_view and answer.status in (403, 404):
            cast.fail(where, f"a member was refused ({answer.status}) a page of their team")
        if not may_view and answer.status not in (403, 404):
            cast.fail(where, f"answered {answer.status}, expected 403 (below {page.view})")
        if answer.changed:
            cast.fail(where, f"a GET changed {sorted(answer.changed)}")
        return
    allowed = page.post is not None and RANK[role] >= RANK[page.post]
    if not allowed:
        if answer.status not in (403, 404):
            cast.fail(where, f"answered {answer.status}, expected 403 (role below {page.post})")
        if answer.changed:
            cast.fail(where, f"role below {page.post} changed {sorted(answer.changed)}")
        return
    if answer.status in (403, 404):
        cast.fail(where, f"refused ({answer.status}) although {role} may do this")
    if role == page.post and not set(page.changes) <= answer.changed:
        missing = sorted(set(page.changes) - answer.changed)
        cast.fail(where, f"did not change {missing}: the sweep's body does not really act")


def test_every_page_route_with_every_role(sweep):
    routes = page_routes()
    assert len(routes) > 30, "the route walk found too few URLs"
    for route in routes:
        sweep_page(sweep, route, PAGES.get(route.name))
    assert not sweep.findings, "\n".join(["", *sweep.findings])


def test_mixed_ownership_urls_answer_404(sweep):
    """A URL naming two objects, one of them another team's, is refused whole: the
    outsider names their own team and our invitation, membership, and so on."""
    tried = 0
    for route in page_routes():
        page = PAGES.get(route.name, Page(BOTH))
        if len(route.object_params) < 2 or page.capability or page.public:
            continue
        client = sweep.client("outsider")
        theirs = values_for(route, sweep.other)[0]
        ours = values_for(route, sweep.world)[0]
        for name in route.object_params:
            values = {**theirs, name: ours[name]}
            for method in page.methods:
                where = f"{method} {route.url(values)} ({route.name}) with our {name}"
                data = page.data(sweep.world) if page.data else {}
                answer = call(client, method, route.url(values), data)
                tried += 1
                if answer.status != 404 or answer.changed:
                    sweep.fail(where, f"answered {answer.status}, changed {answer.changed}")
    assert tried >= 4
    assert not sweep.findings, "\n".join(["", *sweep.findings])


# --- The API sweep -------------------------------------------------------------------------


def openapi_operations(client: Client) -> list[tuple[str, str, list[str]]]:
    schema = client.get(f"/{api_prefix()}openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            params = [p["name"] for p in spec.get("parameters", []) if p["in"] == "path"]
            found.append((method.upper(), path, params))
    return found


def test_every_api_operation_with_every_role(sweep):
    operations = openapi_operations(Client())
    assert len(operations) >= 6
    for method, path, params in operations:
        key = f"{method} {path}"
        operation = OPERATIONS.get(key)
        if operation is None:
            sweep.fail(key, "is not listed in OPERATIONS in tests/test_authorization_sweep.py")
            operation = Operation("viewer")
        values = {name: sweep.world.values(name)[0] for name in params}
        url = re.sub(r"{(\w+)}", lambda m, values=values: values[m[1]], path)
        forged_url = re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()), path)
        body = operation.body(sweep.world) if operation.body else None
        team_scoped = bool(params) or operation.team_body
        for role in ROLES:
            where = f"{key} as {role}"
            client = sweep.bearer(role)
            answer = call(client, method, url, body, json=True)
            if answer.status >= 500:
                sweep.fail(where, f"answered {answer.status}")
            elif role == "anonymous":
                if answer.status != 401 or answer.changed:
                    sweep.fail(where, f"answered {answer.status}, changed {answer.changed}")
            elif role == "outsider":
                if team_scoped and (answer.status != 404 or answer.changed):
                    sweep.fail(where, f"answered {answer.status}, changed {answer.changed}")
                if params:
                    control = call(client, method, forged_url, body, json=True)
                    if control.status != answer.status:
                        sweep.fail(where, f"{answer.status} for real ids, {control.status} forged")
            elif RANK[role] < RANK[operation.role]:
                if answer.status not in (403, 404) or answer.changed:
                    sweep.fail(where, f"answered {answer.status}, changed {answer.changed}")
            else:
                if not 200 <= answer.status < 300:
                    sweep.fail(where, f"answered {answer.status} although {role} may")
                if role == operation.role and not set(operation.changes) <= answer.changed:
                    sweep.fail(where, f"did not change {operation.changes}")
    # And a token that is not one is refused everywhere.
    forged_client = Client(HTTP_AUTHORIZATION="Bearer stu_forged")
    for method, path, _ in operations:
        url = re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()), path)
        answer = call(forged_client, method, url, {}, json=True)
        if answer.status != 401:
            sweep.fail(f"{method} {path} with a forged token", f"answered {answer.status}")
    assert not sweep.findings, "\n".join(["", *sweep.findings])


def test_api_urls_are_all_in_the_schema():
    """Every URL under the API's prefix is an operation of the schema (so it is swept
    above) or one of the few public schema and docs pages."""
    prefix = api_prefix()
    schema_paths = {re.sub(r"{\w+}", "{}", path) for _, path, _ in openapi_operations(Client())}
    for route in all_routes():
        if not route.pattern.startswith(prefix) or route.name in API_NON_OPERATIONS:
            continue
        as_schema = "/" + re.sub(r"<[^>]+>", "{}", route.pattern)
        assert as_schema in schema_paths, f"{route.pattern} is not in the OpenAPI schema"


def test_api_schema_and_docs_are_the_only_public_api_urls():
    prefix = api_prefix()
    for route in all_routes():
        if route.pattern.startswith(prefix) and route.name in API_NON_OPERATIONS:
            status = Client().get("/" + route.pattern).status_code
            assert status in (200, 404), (route.name, status)


# --- The WebSocket sweep -------------------------------------------------------------------


def _ws_routes() -> list[Route]:
    return list(_walk(websocket_urlpatterns))


async def _connect(user, path: str, origin: bytes | None = b"http://localhost"):
    from studio.asgi import application

    from .test_live import session_cookie

    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected


FOREIGN_ORIGINS = [
    None,  # no Origin header at all
    b"http://evil.example",
    b"null",
    b"http://localhost.evil.example",
    b"http://evil.localhost",
    b"https://evil.example:443",
]


def test_every_websocket_route_with_every_role(sweep):
    routes = _ws_routes()
    assert routes
    findings = []
    for route in routes:
        values = values_for(route, sweep.world)[0]
        path = route.url(values)
        forged_path = route.url(forged(route, values))
        for role in ROLES:
            connected = async_to_sync(_connect)(sweep.users[role], path)
            member = role in RANK
            if connected != member:
                findings.append(f"{path} as {role}: connected={connected}")
        if async_to_sync(_connect)(sweep.users["owner"], forged_path):
            findings.append(f"{forged_path}: a forged id connected")
        for origin in FOREIGN_ORIGINS:
            if async_to_sync(_connect)(sweep.users["owner"], path, origin):
                findings.append(f"{path} from origin {origin!r} connected")
    assert not findings, findings
