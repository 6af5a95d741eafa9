"""The studio as it runs at scale: separate processes sharing PostgreSQL, Redis and S3.

Two web processes (`manage.py serve`, no worker inside) and two `manage.py worker`
processes run against the test database, with the fake OpenAI server as the image API.
A browser's socket on web A sees a job submitted through web B finish; a worker killed
in the middle of a job leaves it to the other worker, charged once, nothing lost.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.asyncio.client import connect

from accounts.models import ApiToken, Team
from accounts.teams import create_team
from studio import credits
from studio.models import CreditEntry, Gallery, Job, JobStatus, Version

from .factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = ("worker-one", "worker-two")
LEASE_SECONDS = 2
BRIEF = {
    "subject": "A ceramic teapot with a chipped spout",
    "frame": "Close-up, centred",
    "lighting": "Soft morning light from a window on the left",
    "style": "Clean product photography",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database (pytest-django's test_<name>), for the child processes."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def eventually(condition, timeout: float, message: str):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{message} (after {timeout:.0f}s)")
        time.sleep(0.1)


class Cluster:
    def __init__(self, workdir: Path, api_url: str):
        self.workdir = workdir
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("STUDIO_INPROCESS_WORKER", "STUDIO_MODELS")
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="studio.settings",
            DATABASE_URL=database_url(),
            DJANGO_SECRET_KEY=settings.SECRET_KEY,  # sessions made here are read there
            STUDIO_VAR_DIR=str(workdir / "var"),
            STUDIO_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            STUDIO_LOG_LEVEL="WARNING",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=api_url,
            OPENAI_TIMEOUT="30",
            OPENAI_MAX_ATTEMPTS="2",
            OPENAI_MAX_BACKOFF="0.1",
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_web(self, name: str) -> None:
        self.ports[name] = free_port()
        self.start(name, "serve", "--port", str(self.ports[name]))

    def url(self, name: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def check_running(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")

    def wait_until_ready(self, timeout: float = 60) -> None:
        def ready():
            for name in self.processes:
                self.check_running(name)
            webs = all(self._listening(port) for port in self.ports.values())
            workers = all("running" in self.log(name) for name in WORKERS)
            return webs and workers

        eventually(ready, timeout, "the web and worker processes did not start")

    @staticmethod
    def _listening(port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        return False

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-2000:]}" for name in self.processes)


def missing_services() -> list[str]:
    missing = [name for name in ("REDIS_URL", "STUDIO_S3_BUCKET") if not os.environ.get(name)]
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        missing.insert(0, "DATABASE_URL (PostgreSQL)")
    return missing


@pytest.fixture(scope="module")
def cluster(django_db_setup, fake_openai_server, tmp_path_factory):
    # Set up before the per-test service check in conftest, so it checks for itself.
    missing = missing_services()
    if missing:
        message = f"the multi-process test needs {', '.join(missing)}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run this test: {message}", pytrace=False)
        pytest.skip(message)
    running = Cluster(tmp_path_factory.mktemp("cluster"), fake_openai_server.base_url)
    try:
        running.start_web("web-a")
        running.start_web("web-b")
        for name in WORKERS:
            running.start(name, "worker", "--name", name)
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def designer(transactional_db):
    """A user with a team, its gallery, a browser session and an API token."""
    user = UserFactory(username="dana")
    team = create_team(user, "Dana's team")
    gallery = Gallery.default_for(team)
    browser = Client()
    browser.force_login(user)
    _, token = ApiToken.issue(user, "multiprocess test")
    return user, team, gallery, browser.cookies["sessionid"].value, token


async def submit(web_url: str, token: str, gallery: Gallery, n: int) -> str:
    payload = {
        "brief": BRIEF,
        "model": "gpt-image-1-mini",
        "quality": "low",
        "n": n,
        "gallery": str(gallery.pk),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{web_url}/api/v1/jobs", json=payload, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 202, await response.text()
        return (await response.json())["id"]


def s3_client():
    import boto3

    options = settings.STORAGES["default"]["OPTIONS"]
    return boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        region_name=options["region_name"],
        aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"],
    )


def test_socket_on_one_web_process_sees_a_job_from_the_other_finish(cluster, designer, fake_openai):
    user, team, gallery, session, token = designer
    fake_openai.latency = 0.3  # three answers (two previews, the image): about a second

    async def watch_and_submit():
        async with connect(
            f"{cluster.url('web-a', 'ws')}/ws/galleries/{gallery.pk}/",
            additional_headers={"Cookie": f"sessionid={session}"},
            origin="http://localhost",
        ) as socket:
            job_id = await submit(cluster.url("web-b"), token, gallery, n=1)
            received = []
            async with asyncio.timeout(45):
                while True:
                    message = await socket.recv()
                    received.append(message)
                    assert "status-failed" not in message, message
                    if f'id="job-{job_id}" hx-swap-oob="delete"' in message:  # finished
                        return job_id, received

    try:
        job_id, received = asyncio.run(watch_and_submit())
    except TimeoutError:
        pytest.fail(f"web A never showed the job finish\n{cluster.logs()}")
    seen = "\n".join(received)
    assert f'id="job-{job_id}"' in received[0]  # queued on B, shown on A
    assert "Running" in seen
    assert 'class="asset-card"' in seen  # the finished image

    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.SUCCEEDED and job.worker in WORKERS
    version = Version.objects.get(job=job)
    bucket = s3_client()
    for name in (version.image.name, version.thumbnail.name):
        head = bucket.head_object(Bucket=settings.S3_BUCKET, Key=name)
        assert head["ContentLength"] > 0
    original = bucket.get_object(Bucket=settings.S3_BUCKET, Key=version.image.name)["Body"].read()
    assert original.startswith(b"\x89PNG") and b"studio:brief" in original


def test_job_of_a_killed_worker_is_finished_by_the_other_and_charged_once(
    cluster, designer, fake_openai
):
    user, team, gallery, session, token = designer
    for name in WORKERS:
        cluster.check_running(name)
    fake_openai.latency = 1.0  # about three seconds per image
    balance_before = Team.objects.get(pk=team.pk).credit_balance
    job_id = asyncio.run(submit(cluster.url("web-a"), token, gallery, n=2))

    def claimed():
        job = Job.objects.get(pk=job_id)
        return job.status == JobStatus.RUNNING and job.worker in WORKERS and job.worker

    first = eventually(claimed, 30, "no worker claimed the job")
    # Mid-job: the image API has the worker's requests open.
    eventually(lambda: len(fake_openai.requests) >= 1, 15, "the worker never called the API")
    cluster.kill(first)
    assert Job.objects.get(pk=job_id).status == JobStatus.RUNNING

    def finished():
        job = Job.objects.get(pk=job_id)
        return job.is_finished and job

    job = eventually(finished, 60, f"the job was not finished\n{cluster.logs()}")
    assert job.status == JobStatus.SUCCEEDED, job.error
    (survivor,) = set(WORKERS) - {first}
    assert job.worker == survivor and job.attempts == 2
    assert sorted(Version.objects.filter(job=job).values_list("slot", flat=True)) == [0, 1]
    entries = list(CreditEntry.objects.filter(job=job).values_list("kind", "amount"))
    assert entries == [(CreditEntry.Kind.HOLD, -job.cost)]  # one hold, no refund
    team = Team.objects.get(pk=team.pk)
    assert team.credit_balance == balance_before - job.cost
    assert credits.ledger_total(team) == team.credit_balance
