"""Django settings. Every value comes from the environment through :mod:`config.env`.

With nothing set, the product runs on its embedded defaults: SQLite and a model store under
``var/``, and an embedded Redis started by ``make run``. See ``.env.example`` for each variable.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    parse_role_map,
    proxy_ssl_header,
    with_query_defaults,
)
from core.crypto import new_key, parse_keys
from core.rolenames import ROLE_GROUPS
from integrations.atomic import write_atomic

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")


def _make_dir(path: Path) -> None:
    """Create a directory the embedded defaults use, where the disk allows it.

    Web pods run with a read-only VAR_DIR (only uploads get scratch space), so failing here
    would stop them for nothing; what really needs a directory fails there, naming it.
    """
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)


def _generated(name: str, filename: str, make: Callable[[], str]) -> str:
    """Setting ``name`` from the environment, else a value generated once and kept under VAR_DIR."""
    value = env_secret(name)
    if value:
        return value
    path = VAR_DIR / filename
    if not path.exists():
        try:
            # Mode 0600, and never over a value another process wrote: processes starting
            # together all read one.
            write_atomic(path, make().encode(), prefix=f".{filename}-", overwrite=False)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name} is not set and {path} cannot be written ({exc.strerror}): "
                f"set {name} (or {name}_FILE), or make VAR_DIR writable"
            ) from exc
    return path.read_text().strip()


_make_dir(VAR_DIR)
SECRET_KEY = _generated("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
# Keys for secrets stored in the database (cluster credentials, webhook and notification
# secrets): comma-separated, the first encrypts, all decrypt. See docs/deploy.md.
FIELD_ENCRYPTION_KEYS = parse_keys(
    _generated("FIELD_ENCRYPTION_KEY", "field_encryption_key", new_key), "FIELD_ENCRYPTION_KEY"
)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
# Prometheus addresses each pod by its IP (Host: <pod IP>:8000); the pod's own IP (downward
# API) is served too. Only what is inside the cluster reaches a pod's IP.
POD_IP = env_str("POD_IP")
if POD_IP:
    ALLOWED_HOSTS.append(f"[{POD_IP}]" if ":" in POD_IP else POD_IP)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s]+", _origin):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} is not an origin such as https://releases.example.com"
        )

# --- Behind the TLS-terminating ingress -------------------------------------------------------
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY")
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(
    env_str("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https" if BEHIND_TLS_PROXY else "")
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", BEHIND_TLS_PROXY)
# HTTPS only: the ingress sends plain http on, and says so in the header above. The probes
# and Prometheus reach the pods directly over http, so their paths are never redirected.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Asking browsers to preload HSTS is the domain owner's decision for the whole domain
# (hstspreload.org), not the dashboard's: `check --deploy` need not nag about it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "django_htmx",
    "axes",
    "core",
    "models_registry",
    "builds",
    "clusters",
    "releases",
    "overview",
    "notifications",
]

MIDDLEWARE = [
    "core.metrics.RequestMetricsMiddleware",  # first: counts and times every answer, redirects too
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.authcache.CachedAuthenticationMiddleware",  # Django's, with the user cached for reads
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the 429 answer
]

# Content-Security-Policy: scripts only from our own static files (htmx included), so a value that
# slipped into a page can never run. Inline style attributes stay allowed: they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.roles",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASE_URL = env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'dashboard.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and workers write at once: WAL lets readers go on during a write, and the busy
    # timeout plus IMMEDIATE transactions make a writer wait instead of failing with
    # "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    }
    # Tests start real workers and schedulers in other processes: they need a database file,
    # not the private in-memory database Django would use.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-database.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and background jobs ---------------------------------------------------------------
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
REDIS_URL = env_secret("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}"
USES_EMBEDDED_REDIS = not env_secret("REDIS_URL")
JOB_QUEUES = ("default", "builds", "deploys")
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 3, minimum=0, maximum=20)
JOB_RETRY_DELAY = env_int("JOB_RETRY_DELAY", 10, minimum=1, maximum=3600)
JOB_TIMEOUT = env_int("JOB_TIMEOUT", 3600, minimum=10)
# A running job stamps its row this often; a run whose stamps stop for JOB_LOST_AFTER seconds
# lost its worker and is retried.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 5, minimum=1, maximum=300)
JOB_LOST_AFTER = env_int("JOB_LOST_AFTER", 30, minimum=3, maximum=3600)
if JOB_LOST_AFTER < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("JOB_LOST_AFTER must be at least three JOB_HEARTBEAT_SECONDS")
SCHEDULER_TICK_SECONDS = 1.0  # how often the scheduler process looks for due work
# Redis answers a web process within this many seconds, or the request fails (a page: 503) or the
# job waits for the scheduler to push it again, instead of holding a web thread for good. RQ
# workers raise it on their own connections above their blocking dequeue.
REDIS_TIMEOUT = env_int("REDIS_TIMEOUT", 3, minimum=1, maximum=60)
_QUEUES_URL = with_query_defaults(
    REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
)
RQ_QUEUES = {name: {"URL": _QUEUES_URL, "DEFAULT_TIMEOUT": JOB_TIMEOUT} for name in JOB_QUEUES}
# Shared by every web replica: rate limits, sessions, sign-ins and the overview.
CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT},
    }
}
# Tests run jobs in-process; see tests/conftest.py.
RQ_SHOW_ADMIN_LINK = True

# --- Model store -----------------------------------------------------------------------------
MODEL_STORE = {
    "kind": env_choice("MODEL_STORE", "filesystem", ("filesystem", "azure")),
    "path": env_str("MODEL_STORE_PATH") or str(VAR_DIR / "models"),
    "connection_string": env_secret("AZURE_STORAGE_CONNECTION_STRING"),
    "account_url": env_str("AZURE_STORAGE_ACCOUNT_URL"),
    "container": env_str("AZURE_STORAGE_CONTAINER", "models"),
    "prefix": env_str("AZURE_STORAGE_PREFIX"),
}
if MODEL_STORE["kind"] == "azure" and not (MODEL_STORE["connection_string"] or MODEL_STORE["account_url"]):
    raise ImproperlyConfigured(
        "MODEL_STORE=azure needs AZURE_STORAGE_CONNECTION_STRING (or _FILE) or AZURE_STORAGE_ACCOUNT_URL"
    )
MODEL_SYNC_INTERVAL = env_int("MODEL_SYNC_INTERVAL", 300, minimum=0)
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024**3, minimum=1)

# Large uploads stream to a temporary file while being hashed; nothing big stays in memory.
FILE_UPLOAD_HANDLERS = ["models_registry.uploads.HashingUploadHandler"]
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "uploads")
_make_dir(Path(FILE_UPLOAD_TEMP_DIR))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Builds: registry, build services, git ----------------------------------------------------
IMAGE_REGISTRY = {
    "kind": env_choice("IMAGE_REGISTRY", "oci-layout", ("oci-layout", "distribution", "acr")),
    "root": env_str("REGISTRY_PATH") or str(VAR_DIR / "registry"),
    "host": env_str("REGISTRY_HOST", "localhost"),
    "url": env_str("REGISTRY_URL"),
    "endpoint": env_str("REGISTRY_URL"),
    "username": env_str("REGISTRY_USERNAME"),
    "password": env_secret("REGISTRY_PASSWORD"),
}
if IMAGE_REGISTRY["kind"] != "oci-layout" and not IMAGE_REGISTRY["url"]:
    raise ImproperlyConfigured(f"IMAGE_REGISTRY={IMAGE_REGISTRY['kind']} needs REGISTRY_URL")


class AzureDevOpsSettings(TypedDict):
    organization_url: str
    project: str
    definition_id: int
    pat: str


AZURE_DEVOPS: AzureDevOpsSettings = {
    "organization_url": env_str("AZURE_DEVOPS_ORG_URL"),
    "project": env_str("AZURE_DEVOPS_PROJECT"),
    "definition_id": env_int("AZURE_DEVOPS_PIPELINE_ID", 0, minimum=0),
    "pat": env_secret("AZURE_DEVOPS_PAT"),
}
BUILD_WORKDIR = VAR_DIR / "builds"
GIT_CACHE_DIR = VAR_DIR / "git"
BUILD_TIMEOUT = env_int("BUILD_TIMEOUT", 3600, minimum=60)
BUILD_POLL_SECONDS = env_int("BUILD_POLL_SECONDS", 5, minimum=1)
BUILD_STALL_SECONDS = env_int("BUILD_STALL_SECONDS", 300, minimum=30)
BUILD_HISTORY_COMMITS = env_int("BUILD_HISTORY_COMMITS", 100, minimum=1, maximum=10000)
STALL_CHECK_INTERVAL = 60
GIT_POLL_INTERVAL = env_int("GIT_POLL_INTERVAL", 60, minimum=0)
TAG_SYNC_INTERVAL = env_int("TAG_SYNC_INTERVAL", 300, minimum=0)

# --- Releases ---------------------------------------------------------------------------------
DEPLOY_LEASE_SECONDS = env_int("DEPLOY_LEASE_SECONDS", 30, minimum=5)
RELEASE_TICK_INTERVAL = env_int("RELEASE_TICK_INTERVAL", 15, minimum=1)
DRIFT_CHECK_INTERVAL = env_int("DRIFT_CHECK_INTERVAL", 120, minimum=0)
# The overview grid is rendered at most once per this many seconds (0: every request).
OVERVIEW_CACHE_SECONDS = env_int("OVERVIEW_CACHE_SECONDS", 3, minimum=0)

# --- Auth, API -------------------------------------------------------------------------------
LOGIN_URL = "login"
# Sessions in Redis for reads, written through to the database (they survive a Redis restart).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Pages that only read take the user and their permissions from Redis for at most this many
# seconds (0: from the database on every request); any change to roles drops them at once.
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# Sign-in by user name and password (the login form, the admin's, POST /api/v1/auth/token/).
# Off: only single sign-on; API tokens already issued keep working.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out user name and address first
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_LOGIN else []),
    # Signs in only from the OpenID Connect callback; also answers permission checks for everyone.
    "core.sso.OIDCBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins per user name and client address (django-axes, in the database).
SIGN_IN_RATE = env_str("SIGN_IN_RATE", "20/min")  # sign-in attempts per client address
if not re.fullmatch(r"\d+/(s|sec|m|min|h|hour|d|day)", SIGN_IN_RATE):
    raise ImproperlyConfigured(f"SIGN_IN_RATE must look like 20/min (not {SIGN_IN_RATE!r})")
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.signin.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "token"]
# Behind the ingress the client's address is the last hop it appended to X-Forwarded-For.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if BEHIND_TLS_PROXY else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_COUNT = 1 if BEHIND_TLS_PROXY else None
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Single sign-on: OpenID Connect (docs/sso.md) ----------------------------------------------
# mozilla-django-oidc reads the OIDC_RP_* / OIDC_OP_* names; ours are the environment's.
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_MAP = parse_role_map(env_str("OIDC_ROLE_MAP"), ROLE_GROUPS)
# Endpoints given here are used as they are; the others come from the issuer's discovery
# document, read at the first sign-in (never at start-up of a request that is no sign-in).
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_URI")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1, maximum=120)  # seconds per call to the provider
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"
if OIDC_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE)"
    )
if OIDC_ISSUER and not re.fullmatch(r"https?://\S+", OIDC_ISSUER):
    raise ImproperlyConfigured(f"OIDC_ISSUER must be the provider's URL (not {OIDC_ISSUER!r})")
if not LOCAL_LOGIN and not OIDC_ISSUER:
    raise ImproperlyConfigured("LOCAL_LOGIN=false needs OIDC_ISSUER: otherwise nobody could sign in")

DEMO_PASSWORD = env_secret("DEMO_PASSWORD")
# /metrics answers only a scraper sending this bearer token; unset, it answers 404.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# Where gunicorn's worker processes keep request metrics for /metrics to add up (set by
# config/gunicorn_conf.py when absent); unset, each process reports its own.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1, maximum=64)

# --- Notifications ---------------------------------------------------------------------------
NOTIFY_TIMEOUT = env_int("NOTIFY_TIMEOUT", 10, minimum=1, maximum=300)  # seconds per delivery attempt
# Where people open the dashboard: messages link back to its pages with this in front.
DASHBOARD_URL = env_str("DASHBOARD_URL", f"http://127.0.0.1:{PORT}")
if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", DASHBOARD_URL):
    raise ImproperlyConfigured(
        f"DASHBOARD_URL must be an http(s) URL such as https://releases.example.com (not {DASHBOARD_URL!r})"
    )

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.tokens.HashedTokenAuthentication",  # first: a refused request is a 401 that says "Token"
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",  # adds every operation's error answers
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.ContentNegotiation",  # ?format=bogus: a 400
    "DEFAULT_PARSER_CLASSES": [
        "core.safejson.SafeJSONParser",
        "core.parsers.FormParser",  # refuses a NUL in a field, as the JSON parser does
        "core.parsers.MultiPartParser",  # also: an upload over MAX_UPLOAD_BYTES is a 413
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "NUM_PROXIES": 1 if BEHIND_TLS_PROXY else None,
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI release dashboard API",
    "DESCRIPTION": "Model versions, builds, releases and the audit trail of AI applications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ModelVersionStatusEnum": "models_registry.models.ModelVersion.Status",
        "JobRunStatusEnum": "core.models.JobRun.Status",
        "NotificationChannelKindEnum": "notifications.models.NotificationChannel.Kind",
    },
}

# --- Static files, i18n ----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
_make_dir(STATIC_ROOT)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
# json: one object per line with the request id, and in workers the job run, its object and the
# request that enqueued it (core/logcontext.py); the image defaults to it, `make run` stays plain.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logcontext.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"azure": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
