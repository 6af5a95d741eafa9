"""Redis stopping and coming back under a running studio (web and worker processes).

While Redis is down, pages still answer, a job submitted then is not lost: the worker
finds it by polling the database and finishes it. Sockets drop, and the page's next
socket, once Redis is back, catches up from the database; live updates resume.
"""

import asyncio
import json
import shutil
import signal
import subprocess
from datetime import UTC, datetime

import aiohttp
import pytest
import redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from studio.models import Job, JobStatus, Version

from .cluster import eventually, free_port, one_web_one_worker, submit

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nothing else."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self.answers, 15, "the private redis-server did not start")

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # as a crash would: nothing flushed
            self.process.wait(timeout=10)


@pytest.fixture
def outage(django_db_setup, fake_openai_server, tmp_path):
    private = PrivateRedis(tmp_path)
    private.start()
    try:
        with one_web_one_worker(
            tmp_path, fake_openai_server.base_url, REDIS_URL=private.url
        ) as cluster:
            yield cluster, private
    finally:
        private.stop()


async def until(socket, marker: str, seconds: float = 30) -> list[str]:
    received = []
    async with asyncio.timeout(seconds):
        while marker not in "".join(received[-1:]):
            received.append(await socket.recv())
    return received


def test_redis_down_pages_work_jobs_finish_and_live_resumes(outage, designer, fake_openai):
    cluster, private = outage
    user, team, gallery, session, token = designer
    fake_openai.latency = 0.05
    web = cluster.url("web")
    cookie = {"Cookie": f"sessionid={session}"}

    async def scenario():
        # Live, as normal.
        socket = await cluster.watch("web", gallery, session)
        first = await submit(web, token, gallery, n=1)
        await until(socket, f'id="job-{first}" hx-swap-oob="delete"')
        before_outage = datetime.now(UTC)

        private.stop()
        # The socket's server side loses its channel layer and closes; the page's
        # script will reconnect (1011 is among the codes htmx retries on).
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(30):
                while True:
                    await socket.recv()
        assert closed.value.rcvd is None or closed.value.rcvd.code in (1006, 1011, 1012, 1013)

        async with aiohttp.ClientSession(headers=cookie) as http:
            async with http.get(f"{web}/galleries/{gallery.pk}/") as page:
                assert page.status == 200
                assert gallery.name in await page.text()
            async with http.get(f"{web}/healthz") as health:
                report = await health.json()
                assert health.status == 503 and report["channel_layer"].startswith("error")
                assert report["database"] == "ok"
        # Nothing is lost: the job is queued, and the worker finds it without a wake-up.
        during = await submit(web, token, gallery, n=1)
        with pytest.raises(InvalidStatus):
            await cluster.watch("web", gallery, session)  # no socket while Redis is away
        return first, during, before_outage

    first, during, before_outage = asyncio.run(scenario())
    job = eventually(
        lambda: Job.objects.filter(pk=during, status=JobStatus.SUCCEEDED).first(),
        30,
        f"the job submitted during the outage never finished\n{cluster.logs()}",
    )
    made_during = Version.objects.get(job=job)

    private.start()  # empty, as a restarted Redis without persistence is

    async def back():
        # As the page's script does: retry until the web process has its layer again.
        async with asyncio.timeout(30):
            while True:
                try:
                    socket = await cluster.watch("web", gallery, session)
                    break
                except InvalidStatus:
                    await asyncio.sleep(0.5)  # the page's own retry pause
        await socket.send(json.dumps({"catch_up_since": before_outage.isoformat()}))
        caught_up = "".join(await until(socket, f'id="job-{during}" hx-swap-oob="delete"'))
        assert f'id="asset-{made_during.asset_id}"' in caught_up
        # Live again: a new job is announced, claimed by the (re-subscribed) worker and
        # its image pushed to this socket.
        after = await submit(web, token, gallery, n=1)
        live = "".join(await until(socket, f'id="job-{after}" hx-swap-oob="delete"'))
        assert f'id="job-{after}"' in live and 'class="asset-card"' in live
        await socket.close()

    asyncio.run(back())
    assert Job.objects.filter(gallery=gallery, status=JobStatus.SUCCEEDED).count() == 3


CLUSTER_APP_NAME = "studio-outage-test"  # libpq reads PGAPPNAME: the processes' label


def cut_database_connections() -> int:
    """What a PostgreSQL restart does to the processes' connections: every one ends."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [CLUSTER_APP_NAME],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def studio_processes(django_db_setup, fake_openai_server, tmp_path):
    with one_web_one_worker(
        tmp_path, fake_openai_server.base_url, PGAPPNAME=CLUSTER_APP_NAME
    ) as cluster:
        yield cluster


def test_database_connections_cut_under_load_recover_without_a_restart(
    studio_processes, designer, fake_openai
):
    cluster = studio_processes
    user, team, gallery, session, token = designer
    fake_openai.latency = 0.05
    web = cluster.url("web")

    async def load():
        statuses = []
        async with aiohttp.ClientSession(headers={"Cookie": f"sessionid={session}"}) as http:

            async def browse(rounds):
                for _ in range(rounds):
                    async with http.get(f"{web}/galleries/{gallery.pk}/") as page:
                        statuses.append(page.status)
                        await page.read()

            await asyncio.gather(*(browse(10) for _ in range(4)))  # warm: connections pooled
            assert set(statuses) == {200}
            statuses.clear()
            running = asyncio.gather(*(browse(15) for _ in range(4)))
            cut = await asyncio.to_thread(cut_database_connections)
            await running
            during = list(statuses)
            statuses.clear()
            await asyncio.gather(*(browse(5) for _ in range(4)))
            return cut, during, list(statuses)

    cut, during, after = asyncio.run(load())
    assert cut >= 2  # the web process's and the worker's connections at least
    # Requests in flight may fail, cleanly (an error page, no hang); none are left waiting.
    assert len(during) == 60 and set(during) <= {200, 500, 503}
    assert set(after) == {200}, after  # recovered, with no process restarted

    async def a_job_still_runs():
        return await submit(web, token, gallery, n=1)

    job_id = asyncio.run(a_job_still_runs())
    eventually(
        lambda: Job.objects.filter(pk=job_id, status=JobStatus.SUCCEEDED).exists(),
        30,
        f"the worker did not recover its database connection\n{cluster.logs()}",
    )
    for name in ("web", "worker"):
        cluster.check_running(name)
