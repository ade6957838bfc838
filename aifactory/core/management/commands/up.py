import argparse
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, load the demo data (not in production), and run the web server and the task worker until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--demo",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="load the demo data (default: yes, except in production)",
        )

    def handle(self, *args, port: str, host: str, demo: bool | None, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database is up to date")
        if demo is None:
            demo = not settings.PRODUCTION
        if demo:
            self.load_demo()
        else:
            self.stdout.write("demo data not loaded (--demo loads it)")
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        cli = [sys.executable, "-m", "aifactory.cli"]
        if settings.PRODUCTION:
            web = [
                sys.executable,
                "-m",
                "gunicorn",
                "aifactory.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                os.environ.get("WEB_CONCURRENCY", "4"),
            ]
        else:
            web = [*cli, "runserver", f"{host}:{port}", "--noreload"]
        children = [
            subprocess.Popen(web),
            subprocess.Popen([*cli, "worker"]),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"AI Factory Hub at http://{host}:{port}/  (Ctrl-C stops)")
        )

        def stop(signum=None, frame=None):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()

        def on_signal(signum, frame):
            self.stdout.write("stopping…")
            stop()
            sys.exit(0)

        # Set explicitly: a shell that starts us in the background ignores SIGINT otherwise.
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            failed = [c.args for c in children if c.poll() not in (None, 0)]
            if failed:
                self.stderr.write(f"a process stopped: {failed}")
        finally:
            stop()

    def load_demo(self):
        """Asked for explicitly in production (`--demo`), it is loaded there too, with a warning.
        A failure is reported, never fatal: the server starts without the demo."""
        if settings.PRODUCTION:
            self.stderr.write(
                self.style.WARNING("loading the demo data in production, as --demo asks")
            )
        try:
            call_command("seed_demo", force=True, stdout=self.stdout, stderr=self.stderr)
        except Exception as exc:  # noqa: BLE001 - the demo must never stop the server starting
            self.stderr.write(self.style.WARNING(f"warning: the demo data was not loaded: {exc}"))
