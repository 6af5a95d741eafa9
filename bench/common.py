"""Shared helpers for the benchmarks: processes, ports, services, statistics, test images.

Every benchmark section runs in its own Python process (`python -m bench.<section>`) with
the environment of the setup it measures, because Django reads its settings once per
process. A section prints one `BENCH-RESULT {json}` line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORK = ROOT / "var" / "bench"
LOGS = WORK / "logs"
RESULT_PREFIX = "BENCH-RESULT "

# Throwaway services: a database created and dropped by the run, a Redis database index
# of its own so its wake-ups and groups never mix with a developer's or CI's.
DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
BENCH_DB_NAME = "studio_bench"

BRIEF = {
    "subject": "A ceramic teapot with a chipped spout",
    "frame": "Close-up, centred, low angle",
    "lighting": "Soft morning light from a window on the left",
    "style": "Clean, minimal product photography",
}


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def emit(result: dict) -> None:
    """Hand a section's figures to the orchestrator."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# --- statistics ---------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def p95(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# --- environment --------------------------------------------------------------------------

SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "STUDIO_S3_BUCKET",
    "STUDIO_S3_ENDPOINT_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "STUDIO_INPROCESS_WORKER",
    "STUDIO_MODELS",
)


def pg_admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


def bench_pg_url() -> str:
    base = pg_admin_url().rsplit("/", 1)[0]
    return f"{base}/{BENCH_DB_NAME}"


def bench_redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def section_env(config: str, **extra: str) -> dict[str, str]:
    """The environment of one setup: "embedded" (SQLite, in-memory layer) or "scale"."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        PYTHONPATH=str(ROOT),
        STUDIO_VAR_DIR=str(WORK / "var"),
        STUDIO_LOG_LEVEL="WARNING",
        # As deployed: DEBUG's query log and debug hooks are a development aid only.
        STUDIO_DEBUG="false",
        STUDIO_STARTING_CREDITS="1000000000",
        # One benchmark user submits far more than a person would; the limit stays on.
        STUDIO_THROTTLE_GENERATE="1000000/m",
        BENCH_CONFIG=config,
    )
    if config == "scale":
        env.update(DATABASE_URL=bench_pg_url(), REDIS_URL=bench_redis_url())
    env.update(extra)
    return env


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(libpq_url(pg_admin_url()), connect_timeout=3):
            return None
    except Exception as error:
        return f"PostgreSQL at {pg_admin_url()} is not reachable ({type(error).__name__})"


def redis_reachable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(bench_redis_url(), socket_connect_timeout=3).ping()
        return None
    except Exception as error:
        return f"Redis at {bench_redis_url()} is not reachable ({type(error).__name__})"


def libpq_url(url: str) -> str:
    """psycopg (libpq) wants postgresql://; dj-database-url URLs may say postgres://."""
    return url.replace("postgres://", "postgresql://", 1)


def recreate_bench_database() -> None:
    import psycopg

    drop_bench_database()
    with psycopg.connect(libpq_url(pg_admin_url()), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{BENCH_DB_NAME}"')


def drop_bench_database() -> None:
    import psycopg

    with psycopg.connect(libpq_url(pg_admin_url()), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB_NAME}" WITH (FORCE)')


def flush_bench_redis() -> None:
    import redis

    redis.Redis.from_url(bench_redis_url()).flushdb()


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process whose output goes to var/bench/logs/<name>.log; always stopped."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


def manage(command: str, *args: str, env: dict[str, str], name: str) -> Process:
    """`manage.py <command>` through bench.launch, which can swap in the fixed-latency engine."""
    return Process(name, [PYTHON, "-m", "bench.launch", command, *args], env)


def wait_for_port(port: int, process: Process | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def start_web(
    started: list[Process], name: str, env: dict[str, str], *, worker: bool = False
) -> tuple[int, Process]:
    """`manage.py serve` on a free port, ready to answer; with `worker`, a separate
    `manage.py worker` too (the embedded setup sets STUDIO_INPROCESS_WORKER instead)."""
    port = free_port()
    web = manage("serve", "--port", str(port), env=env, name=f"{name}-web")
    started.append(web)
    if worker:
        started.append(manage("worker", env=env, name=f"{name}-worker"))
    wait_for_port(port, web)
    return port, web


def start_relay(
    started: list[Process], name: str, env: dict[str, str], redis_url: str | None = None
) -> int:
    """The bare baseline server (bench.relay) on a free port: HTTP POSTs, or with
    `redis_url` Redis PUBLISHes, pushed to its WebSocket clients."""
    port = free_port()
    extra = ["--redis", redis_url] if redis_url else []
    relay = Process(name, [PYTHON, "-m", "bench.relay", "--port", str(port), *extra], env)
    started.append(relay)
    wait_for_port(port, relay)
    return port


@contextlib.contextmanager
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def rss_kb(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Django in a section process ----------------------------------------------------------


def setup_django() -> None:
    if "BENCH_CONFIG" not in os.environ:
        # Sections get their own var/ and databases from the orchestrator; run alone they
        # would write into the developer's database.
        raise SystemExit("Run the benchmarks with `python -m bench` (or `make bench`).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_member(username: str):
    """A user with their own team (plenty of credits), its gallery and a session cookie."""
    from django.test import Client

    from accounts.models import User
    from accounts.teams import create_team
    from studio.models import Gallery

    user = User.objects.create_user(username=username, password="bench-password-1")
    team = create_team(user, f"{username} team")
    gallery = Gallery.default_for(team)
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    return user, team, gallery, session


CSRF_TOKEN = "benchcsrf" + "x" * 23  # any 32 letters: cookie and header must agree


def browser_headers(session: str) -> dict[str, str]:
    return {"Cookie": f"sessionid={session}; csrftoken={CSRF_TOKEN}"}


def form_headers(session: str) -> dict[str, str]:
    return {**browser_headers(session), "X-CSRFToken": CSRF_TOKEN, "HX-Request": "true"}


def job_form(model: str = "sketch", quality: str = "low") -> dict[str, str]:
    return {**BRIEF, "model": model, "aspect_ratio": "1:1", "quality": quality, "n": "1"}


# --- images -------------------------------------------------------------------------------


def photo_like(width: int = 1024, height: int = 1024, seed: int = 7):
    """A deterministic RGB image that compresses like a photograph (about 2 MB as PNG at
    1024x1024, the size of a real API result): gradients with fine-grained noise."""
    from PIL import Image

    rng = random.Random(seed)
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    radial = Image.radial_gradient("L").resize((width, height))
    linear = Image.linear_gradient("L").resize((width, height))
    red = Image.blend(radial, noise, 0.3)
    green = Image.blend(linear, noise.transpose(Image.Transpose.ROTATE_180), 0.2)
    blue = Image.blend(linear.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise, 0.15)
    return Image.merge("RGB", (red, green, blue))


def png_bytes(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def job_event(event_type: str, job_id: str, **changes) -> dict:
    """A job event as a worker publishes it, for a job of the benchmark's teapot brief."""
    from studio import events

    view = events.JobView(
        id=job_id,
        status="running",
        status_label="Running",
        kind="generate",
        kind_label="Generated",
        model="sketch",
        model_label="Sketch (offline study)",
        prompt=BRIEF["subject"],
        n=1,
        cost=1,
        progress=0.5,
        message="",
        error="",
        created_by="bench",
        engine="sketch",
    )
    return events.job_payload(event_type, replace(view, **changes))
