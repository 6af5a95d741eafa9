"""The studio as it runs at scale: separate processes sharing PostgreSQL, Redis and S3.

Two web processes (`manage.py serve`, no worker inside) and two `manage.py worker`
processes run against the test database, with the fake OpenAI server as the image API.
A browser's socket on web A sees a job submitted through web B finish; a worker killed
in the middle of a job leaves it to the other worker, charged once, nothing lost.
"""

import asyncio
import os

import pytest
from django.conf import settings

from accounts.models import Team
from studio import credits
from studio.models import CreditEntry, Job, JobStatus, Version

from .cluster import Cluster, eventually, s3_client, submit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

WORKERS = ("worker-one", "worker-two")


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
    running = Cluster(tmp_path_factory.mktemp("cluster"), fake_openai_server.base_url, WORKERS)
    try:
        running.start_web("web-a")
        running.start_web("web-b")
        for name in WORKERS:
            running.start(name, "worker", "--name", name)
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


def test_socket_on_one_web_process_sees_a_job_from_the_other_finish(cluster, designer, fake_openai):
    user, team, gallery, session, token = designer
    fake_openai.latency = 0.3  # three answers (two previews, the image): about a second

    async def watch_and_submit():
        async with await cluster.watch("web-a", gallery, session) as socket:
            # A page's socket first hears when it started listening (for catch-ups).
            assert 'id="live-since"' in await socket.recv()
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
