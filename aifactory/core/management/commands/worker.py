import os
import socket
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from aifactory.core import periodic
from aifactory.core.services import worker_heartbeat

HEARTBEAT_SECONDS = 10
TICK_SECONDS = 1


class Command(BaseCommand):
    help = "Run the background task worker (django-tasks database backend) with a heartbeat for /readyz."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--batch", action="store_true", help="exit when the queue is empty")

    def handle(self, *args, interval: float, batch: bool, **options):
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{get_random_string(6)}"
        started = timezone.now()
        stop = threading.Event()

        def beat():
            while not stop.is_set():
                try:
                    worker_heartbeat(
                        worker_id=worker_id,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        started_at=started,
                    )
                except Exception as exc:  # noqa: BLE001 - a missed beat must not stop the worker
                    self.stderr.write(f"heartbeat failed: {exc}")
                finally:
                    close_old_connections()
                stop.wait(HEARTBEAT_SECONDS)

        def tick():
            # Periodic tasks (core.periodic): every worker ticks; the database picks one per interval.
            while not stop.is_set():
                try:
                    periodic.tick()
                except Exception as exc:  # noqa: BLE001 - a failed tick is retried next second
                    self.stderr.write(f"periodic tick failed: {exc}")
                finally:
                    close_old_connections()
                stop.wait(TICK_SECONDS)

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        if not batch:  # a batch worker drains the queue and exits; it starts nothing new
            threading.Thread(target=tick, name="periodic", daemon=True).start()
        self.stdout.write(f"worker {worker_id} started")
        try:
            call_command(
                "db_worker",
                interval=interval,
                batch=batch,
                worker_id=worker_id[:64],
                queue_name="*",
                startup_delay=False,
                reload=False,
            )
        finally:
            stop.set()
