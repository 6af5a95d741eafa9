"""Running the studio as separate processes in tests: web (`manage.py serve`) and
worker processes against the test database, as deployed at scale."""

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
from websockets.asyncio.client import connect

from studio.models import Gallery

ROOT = Path(__file__).resolve().parent.parent
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
    def __init__(self, workdir: Path, api_url: str, workers=("worker-one", "worker-two")):
        self.workdir = workdir
        self.workers = workers
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
        self._logs: list = []

    def start(self, name: str, *args: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self._logs.append(log)
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
            workers = all("running" in self.log(name) for name in self.workers)
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
        for log in self._logs:
            log.close()

    async def watch(self, web: str, gallery, session: str):
        """A page's socket on the web process `web`, as the designer's browser opens it."""
        return await connect(
            f"{self.url(web, 'ws')}/ws/galleries/{gallery.pk}/",
            additional_headers={"Cookie": f"sessionid={session}"},
            origin="http://localhost",
        )

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-2000:]}" for name in self.processes)


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


@contextlib.contextmanager
def one_web_one_worker(workdir: Path, api_url: str, **env: str):
    """A web process ("web") and a worker ("worker") on local files, with `env` on top."""
    cluster = Cluster(workdir, api_url, workers=("worker",))
    cluster.env.pop("STUDIO_S3_BUCKET", None)
    cluster.env.update(env)
    try:
        cluster.start_web("web")
        cluster.start("worker", "worker", "--name", "worker")
        cluster.wait_until_ready()
        yield cluster
    finally:
        cluster.stop()


def s3_client():
    """A boto3 client for the test bucket's server, from the studio's own settings."""
    import boto3

    options = settings.STORAGES["default"]["OPTIONS"]
    return boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        region_name=options["region_name"],
        aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"],
    )
