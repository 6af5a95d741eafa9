"""Benchmark c: generations in flight in one worker process, against a slow API.

The test suite's fake OpenAI server (tests/fakes/openai_server.py) runs in a process of
its own and answers each image request after 2 s; the model is configured without
partial previews, so one generation is one 2 s wait. One `manage.py worker` process
(concurrency 256) gets batches of 16, 64 and 256 jobs queued in one transaction.

  in flight:   the most requests the fake API held open at once (counted by the server),
               and the mean over the batch (request-seconds held open / batch time)
  throughput:  jobs / (last job finished - batch committed), against the ideal C / 2 s
  memory:      the worker's peak resident memory during the batch, against its idle size
"""

import argparse
import json
import os
import subprocess
import time

from .common import (
    PYTHON,
    ROOT,
    cpu_seconds,
    emit,
    log,
    make_member,
    manage,
    median,
    ms,
    processes,
    rss_kb,
    setup_django,
)

LATENCY = 2.0
BATCHES = (16, 64, 256)
MODEL = "gpt-image-1-mini"
MODELS_OVERRIDE = json.dumps({"models": {MODEL: {"partial_images": 0}}})


def start_fake_api() -> tuple[subprocess.Popen, int]:
    fake = subprocess.Popen(
        [PYTHON, "-m", "bench.fakeapi", "--latency", str(LATENCY)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return fake, int(fake.stdout.readline())


def ask(fake: subprocess.Popen, command: str) -> dict:
    fake.stdin.write(command + "\n")
    fake.stdin.flush()
    return json.loads(fake.stdout.readline())


def wait_until_running(worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "running" not in worker.log_path.read_text(errors="replace"):
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not start")
        time.sleep(0.1)


def submit_batch(user, gallery, count: int) -> tuple[list, float]:
    from django.db import transaction

    from studio import jobs
    from studio.briefs import Brief

    from .common import BRIEF

    committed = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))
        ids = [
            jobs.submit(
                user,
                gallery,
                jobs.JobRequest(brief=Brief(**BRIEF), model=MODEL, quality="low"),
            ).pk
            for _ in range(count)
        ]
    return ids, committed[0]


def run_batch(user, gallery, worker, fake, count: int) -> dict:
    from studio.models import Job, JobStatus

    ask(fake, "reset")
    worker_cpu, fake_cpu = cpu_seconds(worker.pid), cpu_seconds(fake.pid)
    ids, committed = submit_batch(user, gallery, count)
    peak_rss = rss_kb(worker.pid)
    deadline = time.monotonic() + 150
    finished = 0
    while time.monotonic() < deadline:
        peak_rss = max(peak_rss, rss_kb(worker.pid))
        finished = Job.objects.filter(
            pk__in=ids, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]
        ).count()
        if finished == count:
            break
        time.sleep(0.1)
    else:
        raise TimeoutError(f"{count - finished} of {count} jobs unfinished after 150 s")
    done = list(Job.objects.filter(pk__in=ids).values("status", "started_at", "finished_at"))
    last = max(row["finished_at"] for row in done).timestamp()
    elapsed = last - committed
    stats = ask(fake, "stats")
    worker_cpu = cpu_seconds(worker.pid) - worker_cpu
    fake_cpu = cpu_seconds(fake.pid) - fake_cpu
    starts = sorted(row["started_at"].timestamp() - committed for row in done)
    durations = sorted((row["finished_at"] - row["started_at"]).total_seconds() for row in done)
    throughput = count / elapsed
    return {
        "jobs": count,
        "failed": sum(row["status"] == JobStatus.FAILED for row in done),
        "peak_in_flight": stats["peak"],
        "mean_in_flight": round(stats["busy"] / elapsed, 1),
        "seconds": round(elapsed, 2),
        "throughput_per_s": round(throughput, 2),
        "ideal_per_s": round(count / LATENCY, 2),
        "ratio_to_ideal": round(throughput / (count / LATENCY), 3),
        "peak_rss_mb": round(peak_rss / 1024, 1),
        "worker_cpu_ms_per_job": round(worker_cpu * 1000 / count, 1),
        "fake_api_cpu_ms_per_job": round(fake_cpu * 1000 / count, 1),
        "first_claim_s": round(starts[0], 2),
        "last_claim_s": round(starts[-1], 2),
        "job_median_s": round(median(durations), 2),
        "job_max_s": round(durations[-1], 2),
    }


def claim_rate(user, gallery, count: int = 200, threads: int = 4) -> dict:
    """How fast workers take jobs off the queue: `count` queued jobs claimed one by one by
    one client, then by `threads` clients at once (SKIP LOCKED on PostgreSQL)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from studio.models import Job, JobStatus
    from studio.worker import claim

    def drain(name: str) -> list[float]:
        times = []
        try:
            while True:
                t0 = time.perf_counter()
                if claim(name) is None:
                    return times
                times.append(time.perf_counter() - t0)
        finally:
            connection.close()

    submit_batch(user, gallery, count)
    single = drain("claim-bench")
    submit_batch(user, gallery, count)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        claimed = sum(len(t) for t in pool.map(drain, [f"claim-{i}" for i in range(threads)]))
    parallel = time.perf_counter() - t0
    Job.objects.filter(worker__startswith="claim").update(status=JobStatus.FAILED)
    return {
        "claim_median_ms": ms(median(single)),
        "claims_per_s": round(len(single) / sum(single)),
        "parallel_clients": threads,
        "parallel_claims_per_s": round(claimed / parallel),
        "double_claims": claimed - count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", choices=["embedded", "scale"], default="scale")
    options = parser.parse_args()
    fake, port = start_fake_api()
    try:
        os.environ.update(
            OPENAI_API_KEY="sk-bench",
            OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
            OPENAI_TIMEOUT="60",
            STUDIO_MODELS=MODELS_OVERRIDE,
        )
        setup_django()
        user, _, gallery, _ = make_member("inflight")
        queue = claim_rate(user, gallery)
        log(f"  c: queue {queue}")
        with processes() as started:
            worker = manage(
                "worker", "--concurrency", str(max(BATCHES)), env=dict(os.environ), name="c-worker"
            )
            started.append(worker)
            wait_until_running(worker)
            time.sleep(1)
            idle = rss_kb(worker.pid)
            batches = []
            for count in BATCHES:
                log(f"  c: {count} jobs at {LATENCY}s API latency")
                batches.append(run_batch(user, gallery, worker, fake, count))
                log(f"  c: {batches[-1]}")
    finally:
        fake.stdin.close()
        fake.wait(timeout=10)
    emit(
        {
            "config": options.config,
            "idle_rss_mb": round(idle / 1024, 1),
            "batches": batches,
            "queue": queue,
        }
    )


if __name__ == "__main__":
    main()
