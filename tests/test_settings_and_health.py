"""Settings switch between embedded and scaled parts; production refuses unsafe config."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "STUDIO_ENV": "production",
    "DJANGO_SECRET_KEY": "k3y-" + "x9Q2mZ7vL4pR8sT1wY6bN3cF5hJ0dG" * 2,
    "ALLOWED_HOSTS": "studio.example.com",
}


def manage(*args, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STUDIO_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "AWS_"))
    }
    clean.update(env)
    clean.setdefault("STUDIO_VAR_DIR", str(ROOT / "var" / "settings-test"))
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_production_passes_deploy_check_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = manage("shell", "-v", "0", "-c", script, STUDIO_VAR_DIR=str(tmp_path))
    second = manage("shell", "-v", "0", "-c", script, STUDIO_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").read_text().strip() == first.stdout.strip()


def test_embedded_defaults_and_scaled_switches():
    script = (
        "import json; from django.conf import settings as s;"
        "print(json.dumps([s.DATABASES['default']['ENGINE'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.STORAGES['default']['BACKEND']]))"
    )
    embedded = json.loads(manage("shell", "-v", "0", "-c", script).stdout)
    assert embedded == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "django.core.files.storage.FileSystemStorage",
    ]
    scaled = manage(
        "shell",
        "-v",
        "0",
        "-c",
        script,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/0",
        STUDIO_S3_BUCKET="studio-media",
    )
    assert json.loads(scaled.stdout) == [
        "django.db.backends.postgresql",
        "channels_redis.core.RedisChannelLayer",
        "storages.backends.s3.S3Storage",
    ]


def test_sqlite_runs_in_wal_mode(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.django_db
def test_healthz_reports_each_part(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "channel_layer": "ok",
        "storage": "ok",
        "status": "ok",
    }


@pytest.mark.django_db
def test_healthz_reports_a_failing_part(client, monkeypatch):
    from studio import health

    def broken():
        raise OSError("disk full")

    monkeypatch.setitem(health.CHECKS, "storage", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["storage"] == "error: OSError"
    assert response.json()["status"] == "degraded"


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get(reverse("login"))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert b"<script>" not in response.content  # no inline script anywhere


def test_admin_is_for_staff_only(cast):
    assert cast.client(cast.owner).get("/admin/").status_code == 302
    cast.owner.is_staff = cast.owner.is_superuser = True
    cast.owner.save()
    assert cast.client(cast.owner).get("/admin/").status_code == 200
