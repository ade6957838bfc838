"""All settings come from the environment, in this one file.

The defaults give the embedded run (SQLite and files under one data folder). Production mode
refuses to start with anything that is only safe on a laptop.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET_KEY = "insecure-embedded-default-change-me"


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


AIFACTORY_ENV = env("AIFACTORY_ENV", "development")
if AIFACTORY_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("AIFACTORY_ENV must be development, production or test")
PRODUCTION = AIFACTORY_ENV == "production"

DATA_DIR = Path(env("AIFACTORY_DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

if PRODUCTION:
    problems = []
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
    if DEBUG:
        problems.append("DEBUG must be off")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must name the hosts this server answers for")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))

INSTALLED_APPS = [
    "aifactory.core.admin_site.HubAdminConfig",  # Django's admin, read-only, administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs (Swagger UI) from our static files, not a CDN
    "django_countries",
    "django_tasks",
    "django_tasks_db",
    "mozilla_django_oidc",
    "aifactory.core",
    "aifactory.accounts",
    "aifactory.catalog",
    "aifactory.advisor",
    "aifactory.access",
    "aifactory.compute",
    "aifactory.data",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "aifactory.core.middleware.ApiProblemMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "aifactory.accounts.middleware.TermsMiddleware",
]

ROOT_URLCONF = "aifactory.urls"
WSGI_APPLICATION = "aifactory.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aifactory.core.context_processors.site",
            ],
        },
    }
]

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'aifactory.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if DATABASES["default"]["NAME"] != ":memory:":
        # A file, not Django's in-memory default, so tests can start the worker and the CLI
        # as real processes on the same test database.
        _db_file = Path(DATABASES["default"]["NAME"])
        DATABASES["default"]["TEST"] = {"NAME": str(_db_file.with_name(f"test_{_db_file.name}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["aifactory.accounts.auth.EmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if AIFACTORY_ENV == "test":
    # Argon2 is deliberately slow; the tests check it is configured, not its cost.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *PASSWORD_HASHERS,
    ]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "core:home"

# Failed logins per e-mail address (and per client address) before a lock-out, and its length.
LOGIN_MAX_FAILURES = int(env("LOGIN_MAX_FAILURES", "5"))
LOGIN_LOCKOUT_SECONDS = int(env("LOGIN_LOCKOUT_SECONDS", "900"))
EMAIL_VERIFICATION_MAX_AGE_DAYS = int(env("EMAIL_VERIFICATION_MAX_AGE_DAYS", "3"))
INVITATION_MAX_AGE_DAYS = int(env("INVITATION_MAX_AGE_DAYS", "14"))
TERMS_VERSION = env("TERMS_VERSION", "2026-11")
WORKER_STALE_SECONDS = int(env("WORKER_STALE_SECONDS", "60"))
# The catalogue's embedding model (aifactory/catalog/embeddings.py).
CATALOG_EMBEDDER = env("CATALOG_EMBEDDER", "use-multilingual-v3")
# sentence-transformers: the model's folder. openai: the API's base address (…/v1), the model it
# serves, its key, seconds to wait, texts per request, retries on 429/5xx, and how it tells a query
# from a passage (an input_type field, or text prefixes such as "query: " for e5 models).
CATALOG_EMBEDDER_PATH = env("CATALOG_EMBEDDER_PATH")
CATALOG_EMBEDDER_URL = env("CATALOG_EMBEDDER_URL")
CATALOG_EMBEDDER_MODEL = env("CATALOG_EMBEDDER_MODEL")
CATALOG_EMBEDDER_API_KEY = env("CATALOG_EMBEDDER_API_KEY")
CATALOG_EMBEDDER_TIMEOUT = float(env("CATALOG_EMBEDDER_TIMEOUT", "30"))
CATALOG_EMBEDDER_BATCH = int(env("CATALOG_EMBEDDER_BATCH", "64"))
CATALOG_EMBEDDER_RETRIES = int(env("CATALOG_EMBEDDER_RETRIES", "3"))
CATALOG_EMBEDDER_INPUT_TYPE = env_bool("CATALOG_EMBEDDER_INPUT_TYPE", False)
CATALOG_EMBEDDER_QUERY_PREFIX = env("CATALOG_EMBEDDER_QUERY_PREFIX")
CATALOG_EMBEDDER_PASSAGE_PREFIX = env("CATALOG_EMBEDDER_PASSAGE_PREFIX")
# Support cases: the first answer is due within this many working days (Luxembourg calendar), and a
# customer may reopen a closed case within this many days.
ADVISOR_FIRST_RESPONSE_DAYS = int(env("ADVISOR_FIRST_RESPONSE_DAYS", "2"))
ADVISOR_REOPEN_DAYS = int(env("ADVISOR_REOPEN_DAYS", "30"))
# Compute applications: the largest evidence file (PDF) an applicant may attach, in megabytes.
ACCESS_MAX_UPLOAD_MB = int(env("ACCESS_MAX_UPLOAD_MB", "20"))
# Peer review: how many submitted reviews an acceptance needs (where the mode asks for peer review).
ACCESS_MIN_PEER_REVIEWS = int(env("ACCESS_MIN_PEER_REVIEWS", "2"))
# Where an accepted application's allocation runs unless the operator names another cluster.
ACCESS_DEFAULT_CLUSTER = env("ACCESS_DEFAULT_CLUSTER", "local")
ACCESS_DEFAULT_PARTITION = env("ACCESS_DEFAULT_PARTITION", "")
# Data services: where dataset files are kept — "disk" (a folder, the embedded default) or "s3"
# (S3-compatible object storage: DATA_S3_BUCKET, DATA_S3_ENDPOINT_URL, DATA_S3_REGION and the usual
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Resumable uploads are staged on local disk in
# DATA_UPLOAD_DIR, which must hold the largest upload, then moved into the storage.
DATA_STORAGE = env("DATA_STORAGE", "disk")
DATA_FILES_DIR = Path(env("AIFACTORY_DATA_FILES_DIR", str(DATA_DIR / "datasets"))).resolve()
DATA_UPLOAD_DIR = Path(env("AIFACTORY_DATA_UPLOAD_DIR", str(DATA_DIR / "uploads"))).resolve()
DATA_S3_BUCKET = env("DATA_S3_BUCKET")
DATA_S3_ENDPOINT_URL = env("DATA_S3_ENDPOINT_URL")
DATA_S3_REGION = env("DATA_S3_REGION", "us-east-1")
DATA_S3_PREFIX = env("DATA_S3_PREFIX", "datasets/")
# The largest file one version may hold, in megabytes (uploads and fetched references).
DATA_MAX_FILE_MB = int(env("DATA_MAX_FILE_MB", "10240"))
# Unfinished resumable uploads are dropped after this many hours.
DATA_UPLOAD_HOURS = int(env("DATA_UPLOAD_HOURS", "48"))
# Read-only SQL and previews: at most this many rows and seconds; DuckDB's memory and threads.
DATA_QUERY_MAX_ROWS = int(env("DATA_QUERY_MAX_ROWS", "1000"))
DATA_QUERY_SECONDS = float(env("DATA_QUERY_SECONDS", "10"))
DATA_DUCKDB_MEMORY = env("DATA_DUCKDB_MEMORY", "512MB")
DATA_DUCKDB_THREADS = int(env("DATA_DUCKDB_THREADS", "2"))
# Access to restricted data: a grant lasts at most this many days (the request names its duration).
DATA_MAX_GRANT_DAYS = int(env("DATA_MAX_GRANT_DAYS", "365"))
# Fetching by reference and harvesting: hosts that resolve to private, loopback or link-local
# addresses are refused (no server-side request forgery) unless listed here (tests, an intranet).
DATA_FETCH_ALLOW_HOSTS = env_list("DATA_FETCH_ALLOW_HOSTS")
DATA_FETCH_TIMEOUT = float(env("DATA_FETCH_TIMEOUT", "30"))
# s3:// references are read anonymously (public objects) from this endpoint; empty: AWS.
DATA_FETCH_S3_ENDPOINT_URL = env("DATA_FETCH_S3_ENDPOINT_URL")
# Called after a dataset's listing changes, with record= (a catalogue record) and listed=; the
# catalogue lists published datasets in its search and matchmaking (data imports no catalogue).
DATA_LISTING_HOOKS = ["aifactory.catalog.services.dataset_listing_sync"]
# How often the worker records expired grants and looks for harvest sources that are due.
DATA_GRANTS_SECONDS = float(env("DATA_GRANTS_SECONDS", "600"))
DATA_HARVEST_SECONDS = float(env("DATA_HARVEST_SECONDS", "300"))
# The sweeper (data/services/sweep.py), every DATA_SWEEP_SECONDS, ends work a stopped worker left:
# versions still fetching, files still waiting for profiling, harvests still running, and partial
# files, once older than DATA_STUCK_MINUTES. 120 rather than "60 + DATA_FETCH_TIMEOUT": that timeout
# bounds each network read, not a whole download, so it says nothing of how long a large fetch or
# profile takes; work a live worker still holds or that waits in the queue is never swept anyway.
DATA_SWEEP_SECONDS = float(env("DATA_SWEEP_SECONDS", "900"))
DATA_STUCK_MINUTES = int(env("DATA_STUCK_MINUTES", "120"))
# The DCAT-AP export: the catalogue's title, description, publisher name and URI (its subject in
# the RDF; the datasets' URIs are made from SITE_URL).
DATA_CATALOG_TITLE = env("DATA_CATALOG_TITLE", "AI Factory Hub data catalogue")
DATA_CATALOG_DESCRIPTION = env(
    "DATA_CATALOG_DESCRIPTION",
    "Datasets published on the AI Factory Hub, with their measured quality and access rights.",
)
DATA_CATALOG_PUBLISHER = env("DATA_CATALOG_PUBLISHER", "AI Factory Hub")
DATA_CATALOG_URI = env("DATA_CATALOG_URI", SITE_URL + "/api/v1/dcat/catalog")
# The largest DCAT-AP document a harvest source may return, in megabytes.
DATA_HARVEST_MAX_MB = int(env("DATA_HARVEST_MAX_MB", "200"))
# The local compute backend's folders: per cluster, the jobs' working folders, control files and logs.
COMPUTE_DIR = Path(env("AIFACTORY_COMPUTE_DIR", str(DATA_DIR / "compute"))).resolve()

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("de", _("German")),
    ("fr", _("French")),
    ("lb", _("Luxembourgish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Europe/Luxembourg")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the portal's own CSS and JS
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "AI Factory Hub <noreply@localhost>")

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
# Periodic tasks (core.periodic, run by `aifactory worker`): a `ping` through the queue every N
# seconds (0: off), and the compute status sync of the clusters that are due.
WORKER_PING_SECONDS = float(env("WORKER_PING_SECONDS", "0"))
COMPUTE_SYNC_SECONDS = float(env("COMPUTE_SYNC_SECONDS", "15"))
# How often the projects' accounts, members and limits are written to the schedulers (changes only).
COMPUTE_PROVISION_SECONDS = float(env("COMPUTE_PROVISION_SECONDS", "300"))

# OpenID Connect login (Keycloak, MyAccessID...): off unless OIDC_ENABLED is set. See .env.example.
OIDC_ENABLED = env_bool("OIDC_ENABLED", False)
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "your identity provider")
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", "openid email profile")
# Either the provider's discovery document, or its four endpoints (which win when both are set).
OIDC_OP_DISCOVERY_URL = env("OIDC_OP_DISCOVERY_URL")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT")
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", True)
# Only for providers that release nothing but verified addresses and do not send email_verified.
OIDC_ASSUME_EMAIL_VERIFIED = env_bool("OIDC_ASSUME_EMAIL_VERIFIED", False)
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_TIMEOUT = float(env("OIDC_TIMEOUT", "10"))
# Called after every OIDC sign-in with user= and claims= (the ID token's and userinfo's claims).
# Listed here, not imported by accounts, so that accounts depends on no app above it.
OIDC_SIGN_IN_HOOKS = ["aifactory.compute.services.clusters.cluster_accounts_from_claims"]
if OIDC_ENABLED:
    required = ["OIDC_RP_CLIENT_ID", "OIDC_RP_CLIENT_SECRET"]
    if not OIDC_OP_DISCOVERY_URL:
        required += [
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
            "OIDC_OP_JWKS_ENDPOINT",
        ]
    missing = [name for name in required if not env(name)]
    if missing:
        raise ImproperlyConfigured(
            f"OIDC_ENABLED needs {', '.join(missing)} (or OIDC_OP_DISCOVERY_URL for the endpoints)"
        )
    AUTHENTICATION_BACKENDS.append("aifactory.accounts.oidc.OIDCBackend")

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},  # one line per embedding request otherwise
    },
}

NINJA_PAGINATION_PER_PAGE = 50
