"""Benchmark d: a gallery of 100,000 versions (50,000 assets of two versions each).

Rows are bulk-inserted into the run's throwaway database (SQLite under var/bench/, or the
`studio_bench` PostgreSQL database). Pages are requested through Django's test client in
this process, so "server time" is the whole request inside Django: middleware, session,
permission check, the page query, template. Queries are counted the same way.

  first page:  GET /galleries/<id>/ (the full page a browser opens)
  deep page:   GET /galleries/<id>/?cursor=... as htmx asks while scrolling, for the
               page that starts at asset 40,000 (the view's keyset cursor)
  search:      a prompt search (`?q=`) that matches one asset: not a DESIGN target,
               shown because it is the one page that reads the whole gallery
Baseline, same run: the same first page of an empty gallery.
"""

import argparse
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

from .common import BRIEF, emit, log, make_member, median, ms, p95, setup_django

ASSETS = 50_000
VERSIONS_PER_ASSET = 2
DEEP = 40_000
REPEAT = 30
BATCH = 2_000


def fill(team, gallery, user) -> None:
    from django.db import transaction
    from django.utils import timezone

    from studio.models import Asset, Version

    stamps = [
        (Asset, "created_at", "auto_now_add"),
        (Asset, "updated_at", "auto_now"),
        (Version, "created_at", "auto_now_add"),
    ]
    saved = [(field, getattr(field, attr), attr) for field, attr in _fields(stamps)]
    for field, _, attr in saved:
        setattr(field, attr, False)  # keep the spread-out timestamps given below
    now = timezone.now()
    prompt = "A ceramic teapot with a chipped spout, close-up, soft morning light, number "
    try:
        with transaction.atomic():
            for start in range(0, ASSETS, BATCH):
                assets, versions = [], []
                for index in range(start, min(start + BATCH, ASSETS)):
                    moment = now - timedelta(seconds=ASSETS - index)
                    asset_id = uuid.uuid4()
                    ids = [uuid.uuid4() for _ in range(VERSIONS_PER_ASSET)]
                    assets.append(
                        Asset(
                            id=asset_id,
                            team=team,
                            gallery=gallery,
                            title=f"Teapot {index}",
                            current_version_id=ids[-1],
                            created_by=user,
                            created_at=moment,
                            updated_at=moment,
                        )
                    )
                    for slot, version_id in enumerate(ids):
                        versions.append(
                            Version(
                                id=version_id,
                                team=team,
                                asset_id=asset_id,
                                parent_id=ids[slot - 1] if slot else None,
                                slot=0,
                                kind="generate" if slot == 0 else "variation",
                                brief=BRIEF,
                                prompt=f"{prompt}{index}",
                                model="sketch",
                                quality="medium",
                                aspect_ratio="1:1",
                                seed=index,
                                cost=1,
                                requested_width=1024,
                                requested_height=1024,
                                width=1024,
                                height=1024,
                                image=f"teams/{team.pk.hex}/originals/{version_id.hex}.png",
                                thumbnail=f"teams/{team.pk.hex}/thumbs/{version_id.hex}.webp",
                                checksum="0" * 64,
                                created_by=user,
                                created_at=moment,
                            )
                        )
                Asset.objects.bulk_create(assets)
                Version.objects.bulk_create(versions)
    finally:
        for field, value, attr in saved:
            setattr(field, attr, value)


def _fields(stamps):
    for model, name, attr in stamps:
        yield model._meta.get_field(name), attr


def timed_get(client, url: str, headers=None) -> tuple[list[float], list[str], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, size = [], [], 0
    for attempt in range(REPEAT + 2):
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            response = client.get(url, headers=headers or {})
            elapsed = time.perf_counter() - t0
        assert response.status_code == 200, (url, response.status_code)
        if attempt >= 2:
            times.append(elapsed)
        queries, size = [_summary(q["sql"]) for q in captured], len(response.content)
    return times, queries, size


def _summary(sql: str) -> str:
    """What a query reads: its verb and the tables after FROM / JOIN."""
    tables = re.findall(r'(?:FROM|JOIN|UPDATE|INTO) "?(\w+)"?', sql)
    return f"{sql.split()[0]} {'+'.join(dict.fromkeys(tables))}"


def deep_cursor(gallery) -> str:
    from studio import gallery_query
    from studio.models import Asset

    asset = (
        Asset.objects.filter(gallery=gallery, current_version__isnull=False)
        .order_by("-updated_at", "-id")
        .only("pk", "updated_at")[DEEP - 1]
    )
    return gallery_query.cursor_after(asset)


def figures(times, queries, size) -> dict:
    return {
        "median_ms": ms(median(times)),
        "p95_ms": ms(p95(times)),
        "queries": len(queries),
        "query_list": queries,
        "kb": round(size / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client

    from studio.models import Version

    user, team, gallery, _ = make_member(f"gallery-{connection.vendor}")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    empty = timed_get(client, f"/galleries/{gallery.pk}/")
    log(f"  d/{connection.vendor}: inserting {ASSETS * VERSIONS_PER_ASSET:,} versions")
    t0 = time.perf_counter()
    fill(team, gallery, user)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    inserted = time.perf_counter() - t0
    assert Version.objects.filter(team=team).count() == ASSETS * VERSIONS_PER_ASSET

    first = timed_get(client, f"/galleries/{gallery.pk}/")
    cursor = deep_cursor(gallery)
    htmx = {"HX-Request": "true"}
    deep = timed_get(client, f"/galleries/{gallery.pk}/?cursor={quote(cursor)}", htmx)
    search = timed_get(client, f"/galleries/{gallery.pk}/?q=number+12345")
    emit(
        {
            "database": connection.vendor,
            "versions": ASSETS * VERSIONS_PER_ASSET,
            "assets": ASSETS,
            "insert_seconds": round(inserted, 1),
            "empty": figures(*empty),
            "first": figures(*first),
            "deep": figures(*deep),
            "search": figures(*search),
        }
    )


if __name__ == "__main__":
    main()
