"""Run a job worker process: `manage.py worker`. Many may run on many machines."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from studio.worker import Worker


class Command(BaseCommand):
    help = "Run queued generation jobs, many at once (STUDIO_WORKER_CONCURRENCY)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None)
        parser.add_argument("--name", default=None)

    def handle(self, *args, concurrency, name, **options):
        asyncio.run(self._main(concurrency, name))

    async def _main(self, concurrency, name):
        worker = Worker(name=name, concurrency=concurrency)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(f"Worker {worker.name} running {worker.concurrency} jobs at a time.")
        runner = asyncio.create_task(worker.run_forever())
        await stop.wait()
        self.stdout.write("Stopping: finishing running jobs, handing back the rest.")
        await worker.stop()
        runner.cancel()
