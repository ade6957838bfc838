"""A tiny OpenID Connect provider (django-oauth-toolkit) that the OIDC login tests start locally.

It is a separate Django project with its own SQLite database, so the tests exercise a real provider
over HTTP instead of a mock. `serve.py` starts it; `aifactory/accounts/tests/test_oidc.py` drives it.
"""
