"""Serve pages and WebSockets from one process, optionally running jobs in it too."""

import asyncio
import logging

from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Start the studio (Daphne). With STUDIO_INPROCESS_WORKER the job worker runs inside."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        from daphne.server import Server  # installs Twisted's asyncio reactor on import

        from studio.asgi import application

        def start_worker():
            # The in-memory channel layer lives on this event loop, so the worker
            # runs here too: its events reach sockets without crossing threads.
            from studio.worker import Worker

            worker = Worker(name=f"inprocess-{port}")
            asyncio.get_event_loop().create_task(worker.run_forever())
            self.stdout.write("Job worker running in this process.")

        ready = start_worker if settings.STUDIO_INPROCESS_WORKER else None
        self.stdout.write(f"Studio at http://{host}:{port}/  (Ctrl+C to stop)")
        Server(
            application,
            endpoints=[f"tcp:port={port}:interface={host}"],
            ready_callable=ready,
            verbosity=0,
        ).run()
