"""Start the test provider: migrate, create the client and the people, serve on a free port.

Run as `python -m aifactory.accounts.tests.oidc_provider.serve` with OP_DATA_DIR (holding
people.json), OP_CLIENT_ID, OP_CLIENT_SECRET and OP_REDIRECT_URI in the environment. Prints
`listening on <port>` once the socket is bound, so the caller needs no port guessing.
"""

import os
import socketserver
import sys

import django


def setup() -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    from .claims import people

    call_command("migrate", verbosity=0, interactive=False)
    for username, person in people().items():
        user = User.objects.create_user(username, password=person["password"])
        user.save()
    Application.objects.create(
        name="AI Factory Hub (test)",
        client_id=os.environ["OP_CLIENT_ID"],
        client_secret=os.environ["OP_CLIENT_SECRET"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=os.environ["OP_REDIRECT_URI"],
        skip_authorization=True,
        algorithm=Application.RS256_ALGORITHM,
    )


def serve() -> None:
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            pass

    httpd = Server(("127.0.0.1", 0), QuietHandler, ipv6=False)
    httpd.set_app(get_wsgi_application())
    print(f"listening on {httpd.server_port}", flush=True)
    httpd.serve_forever()


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "aifactory.accounts.tests.oidc_provider.settings"
    django.setup()
    setup()
    serve()


if __name__ == "__main__":
    sys.exit(main())
