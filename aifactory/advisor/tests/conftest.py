"""Fixtures of the advisor app's tests, one module per feature."""

from .cases_helpers import *  # noqa: F403 - the support-case fixtures
