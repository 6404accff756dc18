"""Settings for the chat relay. Every value comes from the environment (see .env.example)."""

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from streaming.protocol.usage import PriceError, prices_parse
from webapp.env import env_bool, env_int, env_list, env_number, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    # The embedded default keeps a generated key beside its database so sessions survive a
    # restart; a team deployment sets SECRET_KEY explicitly.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        _key_file.write_text(get_random_secret_key())
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "streaming.web.errors.csrf_failure"

INSTALLED_APPS = [
    "daphne",
    "streaming",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "streaming.web.errors.ApiErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "streaming.web.security.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# Connections each process may hold to PostgreSQL: keep processes times this under the server's
# max_connections (100 by default).
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 12, minimum=2)


SQLITE_WAL_PAGES = 20_000  # 80 MB of 4 kB pages


def _database() -> dict:
    url = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    if not url.startswith(("sqlite:", "postgres:", "postgresql:")):
        raise ImproperlyConfigured("DATABASE_URL must be sqlite:///PATH or postgres://…")
    # Under ASGI every request runs in a thread of its own, so a connection kept open after
    # its request is never used again: on SQLite it became cyclic garbage with its page cache,
    # freed only by the collector's passes, which stood the event loop still while they closed
    # hundreds of them. So requests close theirs (CONN_MAX_AGE=0); the worker's threads, which
    # live as long as the process, keep theirs (`streaming/eventlog/store.py`).
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the worker append events while pages read them; IMMEDIATE avoids
        # upgrade deadlocks between concurrent writers. A process that writes logs copies
        # the WAL back in a checkpoint of its own about once a second (streaming/eventlog/flusher.py);
        # a commit does it itself only past SQLITE_WAL_PAGES pages, a backstop.
        # temp_store=MEMORY keeps statement journals in memory: a round's multi-row INSERT
        # inside its transaction journals every index page it changes, and past 64 KiB
        # SQLite spilled that to a temporary file: under load, thousands of writes a second,
        # each one waiting on the file system (bench/load.py shows it).
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; "
                f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES};"
            ),
        }
        # A file, not memory: the worker's threads and test servers must share it.
        # Per process, so two test runs on one checkout do not share a file.
        config["TEST"] = {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")}
    else:
        # Connections kept per request thread would pile up until PostgreSQL refuses clients
        # (100 turns posted at once did it). A pool per process instead; closing returns one.
        pool = {"min_size": 1, "max_size": DATABASE_POOL_SIZE, "timeout": 10}
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "pool": pool}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# Redis pub-sub channels ignore the database number in REDIS_URL: deployments (or test runs)
# sharing one Redis keep apart by this prefix.
REDIS_PREFIX = env_str("REDIS_PREFIX", "asgi")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub-sub layer, not the core one: with our traffic (bench/layers.py, README
            # "Team deployment") the core layer delayed and dropped batches and ran out of
            # Redis connections; a wake-up reaching every worker is fine, the claim is atomic.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # socket_timeout=None: with redis-py 8 idle receives otherwise die after 5 s.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": REDIS_PREFIX,
            },
        }
    }
    # What one process learns of the upstream (its models, no files API, no background
    # mode) the team's other processes read instead of each asking again.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Without Redis there is one process, so the worker runs inside the server.
RELAY_WORKER_IN_PROCESS = not REDIS_URL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Single sign-on (streaming/web/sso.py): django-allauth's OpenID Connect provider ---
# The endpoints are discovered from {OIDC_ISSUER}/.well-known/openid-configuration.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_NAME = env_str("OIDC_NAME", "single sign-on")
OIDC_SCOPES = env_list("OIDC_SCOPES", ["openid", "profile", "email"])
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_STAFF_GROUPS = env_list("OIDC_STAFF_GROUPS", [])
OIDC_REVIEWER_GROUPS = env_list("OIDC_REVIEWER_GROUPS", [])
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID (and OIDC_CLIENT_SECRET)")
if not LOCAL_LOGIN and not OIDC_ISSUER:
    raise ImproperlyConfigured("LOCAL_LOGIN=false needs single sign-on: set OIDC_ISSUER")
# Mail: only a password reset sends any (streaming/web/password_reset.py), and it is
# offered only when mail can go out: EMAIL_HOST set (SMTP), or an EMAIL_BACKEND named.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.dummy.EmailBackend"
)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "streaming.web.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "streaming.web.sso.SocialAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_PROVIDERS = (
    {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "SCOPE": OIDC_SCOPES,
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": OIDC_NAME,
                    "client_id": OIDC_CLIENT_ID,
                    "secret": OIDC_CLIENT_SECRET,
                    "settings": {"server_url": OIDC_ISSUER},
                }
            ],
        }
    }
    if OIDC_ISSUER
    else {}
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# --- The upstream (OpenAI Responses API or anything that speaks it) ---
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
# Empty means the built-in simulator, served by this app itself (see streaming.upstream.client);
# that is the default only without a key, so a key is never sent to the simulator by default.
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL") or (
    "https://api.openai.com/v1" if OPENAI_API_KEY else ""
)
DEFAULT_MODEL = env_str("DEFAULT_MODEL", "gpt-4.1-mini" if OPENAI_API_KEY else "sim-markdown")
UPSTREAM_CONNECT_TIMEOUT = env_number("UPSTREAM_CONNECT_TIMEOUT", 10.0)
UPSTREAM_FIRST_EVENT_TIMEOUT = env_number("UPSTREAM_FIRST_EVENT_TIMEOUT", 60.0)
UPSTREAM_IDLE_TIMEOUT = env_number("UPSTREAM_IDLE_TIMEOUT", 60.0)
UPSTREAM_MAX_RETRIES = env_int("UPSTREAM_MAX_RETRIES", 2)
UPSTREAM_RETRY_BASE_DELAY = env_number("UPSTREAM_RETRY_BASE_DELAY", 0.5)
UPSTREAM_RETRY_MAX_DELAY = env_number("UPSTREAM_RETRY_MAX_DELAY", 8.0)
# The HTTP client under httpx (streaming/upstream/client.py): aiohttp's, through httpx-aiohttp,
# reads a stream with about half the CPU of httpx's own (bench/upstream.py); httpx's speaks
# HTTP/2. Both honour HTTP(S)_PROXY / NO_PROXY.
UPSTREAM_HTTP_CLIENT = env_str("UPSTREAM_HTTP_CLIENT", "aiohttp").strip().lower()
if UPSTREAM_HTTP_CLIENT not in ("aiohttp", "httpx"):
    raise ImproperlyConfigured(
        f"UPSTREAM_HTTP_CLIENT must be aiohttp or httpx, got {UPSTREAM_HTTP_CLIENT!r}"
    )
# Connections one worker holds open to the upstream at once: one per streaming turn.
UPSTREAM_MAX_CONNECTIONS = env_int("UPSTREAM_MAX_CONNECTIONS", 1000, minimum=1)
# Where the simulator is reachable from the worker when OPENAI_BASE_URL is empty; `serve`
# sets it to its own address.
SIMULATOR_BASE_URL = env_str("SIMULATOR_BASE_URL", "http://127.0.0.1:8000/simulator/v1")
# Whether this app serves the simulator under /simulator/ (webapp/asgi.py): by default only in
# the embedded default, without a key; elsewhere every /simulator/ path is a plain 404.
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", not OPENAI_API_KEY)
if not SIMULATOR_ENABLED and not OPENAI_BASE_URL and "SIMULATOR_BASE_URL" not in os.environ:
    raise ImproperlyConfigured(
        "SIMULATOR_ENABLED is false, but without OPENAI_API_KEY or OPENAI_BASE_URL the upstream "
        "is this app's own simulator: set one of them (or SIMULATOR_BASE_URL)"
    )

# --- The relay ---
# The ASGI server `manage.py serve` runs: uvicorn writes each WebSocket frame at once, where
# daphne (Twisted) adds and removes a writer per message; bench/README.md has the figures.
RELAY_HTTP_SERVER = env_str("RELAY_HTTP_SERVER", "uvicorn").strip().lower()
if RELAY_HTTP_SERVER not in ("uvicorn", "daphne"):
    raise ImproperlyConfigured(
        f"RELAY_HTTP_SERVER must be uvicorn or daphne, got {RELAY_HTTP_SERVER!r}"
    )
# The longest rest between two write rounds under load (eventlog/flusher.py): a longer one
# makes rounds larger and fewer, a shorter one relays sooner; bench/README.md has the figures.
RELAY_FLUSH_INTERVAL = env_number("RELAY_FLUSH_INTERVAL", 0.008)
# Freeze the start-up heap out of the collector's full passes, and run those less often
# (streaming/management/heap.py).
RELAY_GC_TUNING = env_bool("RELAY_GC_TUNING", True)
RELAY_FLUSH_MAX_EVENTS = env_int("RELAY_FLUSH_MAX_EVENTS", 512, minimum=1)
RELAY_LEASE_SECONDS = env_number("RELAY_LEASE_SECONDS", 30.0, minimum=1)
RELAY_SWEEP_INTERVAL = env_number("RELAY_SWEEP_INTERVAL", 10.0, minimum=0.1)
RELAY_PREVIOUS_RESPONSE_ID = env_bool("RELAY_PREVIOUS_RESPONSE_ID", False)
# A turn waiting on MCP approvals longer than this (seconds) ends `incomplete` (the sweep).
RELAY_APPROVAL_TIMEOUT = env_number("RELAY_APPROVAL_TIMEOUT", 3600.0, minimum=1)
RELAY_WS_MAX_BACKLOG_BYTES = env_int("RELAY_WS_MAX_BACKLOG_BYTES", 8 * 1024 * 1024, minimum=1024)
# A socket over the backlog limit gets this long to catch up before it is closed (4408).
RELAY_WS_DRAIN_SECONDS = env_number("RELAY_WS_DRAIN_SECONDS", 5.0)
RELAY_REPLAY_BATCH = env_int("RELAY_REPLAY_BATCH", 500, minimum=1)
RELAY_SHUTDOWN_GRACE = env_number("RELAY_SHUTDOWN_GRACE", 20.0)
# Background mode (streaming/upstream/background.py): `auto` asks for it and falls back to a
# plain stream, per base URL, where the upstream refuses it; `on` always; `off` never.
RELAY_BACKGROUND = env_str("RELAY_BACKGROUND", "auto").strip().lower() or "auto"
# A queued turn that no worker claims within this many seconds ends `failed` (the sweep of
# any process, web or worker, does it): with no worker running, nothing stays queued.
RELAY_QUEUE_TIMEOUT = env_number("RELAY_QUEUE_TIMEOUT", 60.0, minimum=1)
if RELAY_BACKGROUND not in ("auto", "on", "off"):
    raise ImproperlyConfigured(
        f"RELAY_BACKGROUND must be auto, on or off, got {RELAY_BACKGROUND!r}"
    )
CHAT_MAX_INPUT_CHARS = env_int("CHAT_MAX_INPUT_CHARS", 32000, minimum=1)
# Per user, across all processes (counted in the database).
LIMIT_ACTIVE_TURNS_PER_USER = env_int("LIMIT_ACTIVE_TURNS_PER_USER", 3, minimum=1)
LIMIT_TURNS_PER_MINUTE = env_int("LIMIT_TURNS_PER_MINUTE", 20, minimum=1)

# --- Models, presets and attachments (streaming/upstream/models.py, services/files.py) ---
# Comma-separated globs of the models users may choose (unset: every model the upstream lists).
MODELS_ALLOWED = env_list("MODELS_ALLOWED", [])
# The models the composer offers a reasoning effort for.
MODELS_REASONING = env_list("MODELS_REASONING", ["o1*", "o3*", "o4*", "gpt-5*", "sim-reasoning"])
# Display names: `id=Label` pairs, comma-separated.
MODEL_LABELS = dict(pair.split("=", 1) for pair in env_list("MODEL_LABELS", []) if "=" in pair)
MODELS_CACHE_SECONDS = env_number("MODELS_CACHE_SECONDS", 300.0)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
# The largest request body read into memory (a JSON body, a form's fields): larger is a 413.
# Files sent to POST /api/files do not count: they stream to disk, bounded by UPLOAD_MAX_BYTES.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
# Attachments of earlier turns are sent again, newest first, while their sizes fit this.
ATTACHMENTS_HISTORY_MAX_BYTES = env_int("ATTACHMENTS_HISTORY_MAX_BYTES", 20 * 1024 * 1024)
# Images and PDFs go to the upstream's files API once (POST /files) and are sent by file id.
UPLOAD_TO_PROVIDER = env_bool("UPLOAD_TO_PROVIDER", False)
# Where attachments are kept: any Django storage backend (UPLOAD_STORAGE_BACKEND, e.g.
# "storages.backends.s3.S3Storage" with django-storages, and UPLOAD_STORAGE_OPTIONS as JSON).
UPLOAD_STORAGE_BACKEND = env_str(
    "UPLOAD_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
)
try:
    UPLOAD_STORAGE_OPTIONS = json.loads(env_str("UPLOAD_STORAGE_OPTIONS") or "null") or {
        "location": str(DATA_DIR / "uploads")
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"UPLOAD_STORAGE_OPTIONS must be a JSON object: {exc}") from None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "uploads": {"BACKEND": UPLOAD_STORAGE_BACKEND, "OPTIONS": UPLOAD_STORAGE_OPTIONS},
}

# --- Usage, cost and budgets (streaming/accounting/, streaming/services/usage.py) ---
# MODEL_PRICES: JSON, or a path to a JSON file, of USD per million tokens per model:
# {"<model>": {"input": …, "cached_input": …, "output": …}}. A model without a price has no cost.
try:
    MODEL_PRICES = prices_parse(env_str("MODEL_PRICES"))
except PriceError as exc:
    raise ImproperlyConfigured(f"MODEL_PRICES: {exc}") from None
# Defaults per user; the admin overrides them per user and per group. 0 / unset: no budget.
BUDGET_TOKENS_PER_DAY = env_int("BUDGET_TOKENS_PER_DAY", 0)
BUDGET_USD_PER_MONTH = env_number("BUDGET_USD_PER_MONTH", 0) or None

# --- Function tools (streaming/tools/functions.py) ---
# Past the timeout a call answers the model with an error (a sync tool's thread runs on to its
# end, unseen); past the cap its output is cut, with a line saying so.
TOOL_TIMEOUT_SECONDS = env_number("TOOL_TIMEOUT_SECONDS", 30.0, minimum=0.1)
TOOL_OUTPUT_MAX_CHARS = env_int("TOOL_OUTPUT_MAX_CHARS", 20_000, minimum=1)
# The largest container file (code interpreter) the server fetches for a page, in bytes.
CONTAINER_FILE_MAX_BYTES = env_int("CONTAINER_FILE_MAX_BYTES", 50 * 1024 * 1024, minimum=1)

# --- Moderation ---
# off: never check; after: check input and output once a turn ends (never fails the turn);
# hold: also hold streamed text back until each checkpoint passes (see docs/moderation.md).
MODERATION_MODE = env_str("MODERATION_MODE", "after").strip().lower()
if MODERATION_MODE not in ("off", "after", "hold"):
    raise ImproperlyConfigured(
        f"MODERATION_MODE must be off, after or hold, got {MODERATION_MODE!r}"
    )
# The moderations endpoint's base URL and key; unset, the upstream's (OPENAI_BASE_URL and
# OPENAI_API_KEY). Without any key or MODERATION_BASE_URL, the rules moderate.
MODERATION_BASE_URL = env_str("MODERATION_BASE_URL")
MODERATION_API_KEY = env_str("MODERATION_API_KEY")
# A JSON file of {"category": ["regex", ...]} that replaces the built-in rules (used without a
# moderations endpoint, and in its place while it is missing or resting).
MODERATION_RULES_FILE = env_str("MODERATION_RULES_FILE")
MODERATION_MODEL = env_str("MODERATION_MODEL", "omni-moderation-latest")
MODERATION_HOLD_CHARS = env_int("MODERATION_HOLD_CHARS", 200, minimum=1)
MODERATION_TIMEOUT = env_number("MODERATION_TIMEOUT", 10.0, minimum=0.1)
MODERATION_RETRIES = env_int("MODERATION_RETRIES", 3)
MODERATION_RETRY_DELAY = env_number("MODERATION_RETRY_DELAY", 1.0)
# After this many failures in a row (all turns together) the endpoint rests this many seconds,
# and the rules moderate meanwhile (streaming/moderation/endpoints.py).
MODERATION_PAUSE_AFTER = env_int("MODERATION_PAUSE_AFTER", 3, minimum=1)
MODERATION_PAUSE_SECONDS = env_number("MODERATION_PAUSE_SECONDS", 300.0, minimum=0)

# --- Health and metrics (streaming/web/health.py) ---
# /metrics is for staff, or for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- Logging ---
# LOG_JSON: one JSON object a line (streaming.logs.JsonFormatter), with `turn_id` where known.
LOG_JSON = env_bool("LOG_JSON", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "streaming.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
# --- end Logging ---
