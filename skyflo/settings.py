"""Skyflo settings. Read the environment here and nowhere else (see DESIGN.md "Configuration")."""

import contextlib
import ipaddress
import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url

from skyflo.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_int,
    env_json_object,
    env_list,
    env_networks,
    env_prices,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SKYFLO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=not DEBUG) or "insecure-debug-only-key-never-used-in-production"
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ConfigError("DJANGO_SECRET_KEY must be a random string of at least 50 characters")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ConfigError("DJANGO_ALLOWED_HOSTS must list the host names Skyflo is served under")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "guardian",
    "channels",
    "orgs",
    "chats",
    "workflows",
    "insights",
    "integrations",
]

MIDDLEWARE = [
    "skyflo.health.OperatorRoutes",  # probes and /metrics, before host checks (they come by pod IP)
    "django.middleware.security.SecurityMiddleware",
    "skyflo.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "skyflo.logs.RequestLog",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "skyflo.urls"
ASGI_APPLICATION = "skyflo.asgi.application"
WSGI_APPLICATION = None

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
                "insights.context_processors.budget_notices",
            ],
        },
    },
]

# --- data stores -------------------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", schemes={"postgres", "postgresql", "sqlite"})
# Each process borrows PostgreSQL connections from a bounded pool of its own: under ASGI every request runs in a
# thread of its own, and persistent per-thread connections piled up until PostgreSQL refused new clients.
DB_POOL_SIZE = env_int("SKYFLO_DB_POOL_SIZE", 20, minimum=2)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["ENGINE"] = "skyflo.postgresql"  # Django's, with a faster timestamp loader
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            application_name=f"skyflo:{Path(sys.argv[0]).name}:{os.getpid()}"[:63],
            pool={"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 10},
        )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# HTTP requests one web process serves at once (the rest of the pool is left to WebSocket consumers), and how
# many more may wait, and for how long, before the answer is 503 with Retry-After (skyflo/admission.py).
HTTP_CONCURRENCY = env_int("SKYFLO_HTTP_CONCURRENCY", max(1, DB_POOL_SIZE - 4), minimum=1)
HTTP_QUEUE = env_int("SKYFLO_HTTP_QUEUE", 100, minimum=0)
HTTP_QUEUE_WAIT_S = env_int("SKYFLO_HTTP_QUEUE_WAIT_S", 5, minimum=1)
# How often a web process checks its open sockets for lost access and lost frames (chats/socket_watch.py).
WS_ACCESS_RECHECK_S = env_int("SKYFLO_WS_RECHECK_S", 5, minimum=1)

REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss", "unix"})
# Embedded mode: no Redis means the in-memory channel layer and runs executed inside the web process.
RUNS_IN_PROCESS = REDIS_URL is None
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "skyflo.channel_layer.PubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "skyflo"},
        }
    }
    CACHES = {"default": {"BACKEND": "skyflo.cache.ProcessPoolRedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ----------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "orgs.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous requests never hold object permissions
GUARDIAN_RAISE_403 = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat-home"
LOGOUT_REDIRECT_URL = "login"
SIGNUP_ENABLED = env_bool("SKYFLO_SIGNUP_ENABLED", False)
INVITATION_TTL = timedelta(days=env_int("SKYFLO_INVITATION_TTL_DAYS", 7, minimum=1))
# Failed sign-ins per window: an address reaching the limit is locked out for the window; an account reaching
# it is slowed (one try per address per LOGIN_ACCOUNT_SLOWDOWN_S), never locked (orgs/services/accounts.py).
LOGIN_FAILURE_LIMIT = env_int("SKYFLO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW_S = env_int("SKYFLO_LOGIN_FAILURE_WINDOW_S", 900, minimum=1)
LOGIN_ACCOUNT_SLOWDOWN_S = env_int("SKYFLO_LOGIN_ACCOUNT_SLOWDOWN_S", 30, minimum=1)
TRUSTED_PROXIES = env_networks("SKYFLO_TRUSTED_PROXIES")  # whose X-Forwarded-For is believed (skyflo/client_ip.py)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUDIENCE": "skyflo-api",
    "ISSUER": "skyflo",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Tokens carry a fingerprint of the password hash: a password change or reset ends every token issued before.
    "CHECK_REVOKE_TOKEN": True,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # `Authorization: Approval <token>`: a webhook's decision of its one approval (integrations/tokens.py).
        "integrations.authentication.ApprovalTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "skyflo.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["skyflo.throttles.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("SKYFLO_USER_RATE", "600/min"),
        "messages": env_str("SKYFLO_MESSAGE_RATE", "30/min"),
        "auth": env_str("SKYFLO_AUTH_RATE", "30/min"),
    },
    "EXCEPTION_HANDLER": "skyflo.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Skyflo API",
    "DESCRIPTION": "Operate Kubernetes by talking to an AI agent, with human approval for every change.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrgRoleEnum": "orgs.models.Role",
        "ClusterKindEnum": "orgs.models.ClusterConnection.Kind",
        "BudgetKindEnum": "orgs.models.Budget.Kind",
    },
    # Served from static/vendor (pinned, see its README), not a CDN; the CSP allows no other origin.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui-dist-5.35.0",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui-dist-5.35.0/favicon-32x32.png",
}

# --- security --------------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# 'self' covers ws:/wss: of the same host (CSP 3). data: images: swagger-ui's and the admin's inline SVG icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# --- the agent ---------------------------------------------------------------------------------------------
LLM_BASE_URL = env_url("LLM_BASE_URL", schemes={"http", "https"})
LLM_API_KEY = env_str("LLM_API_KEY") or env_str("OPENAI_API_KEY")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
LLM_TIMEOUT_S = env_int("SKYFLO_LLM_TIMEOUT_S", 120, minimum=1)
LLM_API_VERSION = env_str("LLM_API_VERSION")  # set for Azure OpenAI: the api-version query of every request
LLM_EXTRA_HEADERS = {str(k): str(v) for k, v in env_json_object("LLM_EXTRA_HEADERS").items()}
LLM_REASONING_EFFORT = env_choice("LLM_REASONING_EFFORT", {"minimal", "low", "medium", "high"})
LLM_MAX_OUTPUT_TOKENS = env_int("SKYFLO_LLM_MAX_OUTPUT_TOKENS", 4096, minimum=16)
# The operator's token prices, USD per million tokens (prompt, completion), over the defaults of orgs/pricing.py,
# e.g. SKYFLO_LLM_PRICES='{"my-model": [0.5, 1.5]}'. A model priced nowhere costs 0 (and is shown as such).
LLM_PRICES = env_prices("SKYFLO_LLM_PRICES")
MCP_SERVER_URL = env_url("MCP_SERVER_URL", schemes={"http", "https"})
MCP_SERVER_TOKEN = env_str("MCP_SERVER_TOKEN")
# A worker's runs on the same cluster connection (URL, token, identity mode) share one MCP session and its tool list
# for this long after it opened (0: a session per run); any error on it ends the sharing at once.
MCP_SESSION_REUSE_S = env_int("SKYFLO_MCP_SESSION_REUSE_S", 30, minimum=0)
# Non-public networks cluster connections may point at (orgs/services/tool_server_address.py). Debug and embedded
# mode run the tool server on loopback, so there loopback is allowed unless a list is given.
MCP_ALLOWED_NETWORKS = env_networks("SKYFLO_MCP_ALLOWED_NETWORKS") or (
    [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")] if DEBUG else []
)
KUBECONFIG = env_str("KUBECONFIG")
SANDBOX_CLUSTER = env_bool("SKYFLO_SANDBOX_CLUSTER", False)  # set by the embedded launcher, shown in the UI

MAX_MESSAGE_CHARS = env_int("SKYFLO_MAX_MESSAGE_CHARS", 8000, minimum=1)
MAX_CONCURRENT_RUNS_PER_USER = env_int("SKYFLO_MAX_CONCURRENT_RUNS_PER_USER", 3, minimum=1)
APPROVAL_TTL = timedelta(minutes=env_int("SKYFLO_APPROVAL_TTL_MINUTES", 30, minimum=1))
VERIFY_MAX_REPLANS = env_int("SKYFLO_VERIFY_MAX_REPLANS", 2, minimum=0)
RUN_HEARTBEAT_TIMEOUT_S = env_int("SKYFLO_RUN_HEARTBEAT_TIMEOUT_S", 60, minimum=5)
# A queued run not started, or a decided approval not resumed, within this is dispatched again (a lost message).
RUN_DISPATCH_TIMEOUT_S = env_int("SKYFLO_RUN_DISPATCH_TIMEOUT_S", 120, minimum=5)

# --- observability -------------------------------------------------------------------------------------------
METRICS_TOKEN = env_str("SKYFLO_METRICS_TOKEN")  # /metrics wants it as a bearer token; unset = no /metrics
METRICS_PORT = env_int("SKYFLO_METRICS_PORT", 0, minimum=0)  # the worker serves /metrics and /healthz here
if METRICS_TOKEN is not None and len(METRICS_TOKEN) < 16:
    raise ConfigError("SKYFLO_METRICS_TOKEN must be at least 16 characters")
# Traces (skyflo/tracing.py) are on when an OTLP endpoint is given; the exporter reads the other OTEL_* variables.
OTEL_TRACES_ENABLED = bool(
    env_str("OTEL_EXPORTER_OTLP_ENDPOINT") or env_str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
) and not env_bool("OTEL_SDK_DISABLED", False)
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME")  # unset: skyflo-web, skyflo-worker, skyflo-beat

# --- budgets and the audit sink (insights/) ----------------------------------------------------------------
# What a run still going counts against a monthly budget at least (insights/budgets.py).
BUDGET_RUN_RESERVE_TOKENS = env_int("SKYFLO_BUDGET_RUN_RESERVE_TOKENS", 20000, minimum=0)
BUDGET_RUN_RESERVE_USD = Decimal(str(env_int("SKYFLO_BUDGET_RUN_RESERVE_MICRO_USD", 50000, minimum=0))) / 1_000_000
# Every audit event is also pushed, as one JSON line, to http(s)://… (POST) or syslog://host:port (UDP, RFC 5424).
AUDIT_SINK_URL = env_url("SKYFLO_AUDIT_SINK_URL", schemes={"http", "https", "syslog"})
AUDIT_SINK_TOKEN = env_str("SKYFLO_AUDIT_SINK_TOKEN")  # sent as a bearer token to an HTTP sink
AUDIT_SINK_TIMEOUT_S = env_int("SKYFLO_AUDIT_SINK_TIMEOUT_S", 3, minimum=1)

# --- approvals in Slack and through a signed webhook (integrations/) -----------------------------------------------
SLACK_API_URL = env_url("SKYFLO_SLACK_API_URL", schemes={"http", "https"}, default="https://slack.com/api/")
# Slack and webhook calls: per-request timeout, and how many times a failed post or update is tried again.
INTEGRATIONS_TIMEOUT_S = env_int("SKYFLO_INTEGRATIONS_TIMEOUT_S", 5, minimum=1)
INTEGRATIONS_RETRIES = env_int("SKYFLO_INTEGRATIONS_RETRIES", 3, minimum=0)
# Where people reach this install (https://skyflo.example.com): links in Slack, the webhook's absolute decide URL.
PUBLIC_URL = env_url("SKYFLO_PUBLIC_URL", schemes={"http", "https"})

# --- Celery --------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Runs wait on the LLM and on kubectl: one worker process carries many of them on threads (DESIGN.md "Processes").
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = env_int("SKYFLO_WORKER_CONCURRENCY", 50, minimum=1)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("SKYFLO_BROKER_VISIBILITY_S", 3600, minimum=10)}
CELERY_BEAT_SCHEDULE = {
    "expire-approvals": {"task": "workflows.tasks.approvals_expire", "schedule": 30.0},
    "recover-stalled-runs": {"task": "workflows.tasks.runs_recover", "schedule": 30.0},
}

# --- static, i18n, logging -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
with contextlib.suppress(OSError):  # whitenoise warns on every request when the folder is missing
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app and vendored assets without a collectstatic step
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOG_FORMAT = env_str("SKYFLO_LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ConfigError(f"SKYFLO_LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
# Values no log line may show (skyflo/logs.py also removes anything shaped like a credential).
_LOG_SECRETS = [SECRET_KEY, LLM_API_KEY, MCP_SERVER_TOKEN, METRICS_TOKEN, DATABASES["default"].get("PASSWORD")]
_LOG_SECRETS += [urlparse(REDIS_URL).password] if REDIS_URL else []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "skyflo": {
            "()": f"skyflo.logs.{'JsonFormatter' if LOG_FORMAT == 'json' else 'PlainFormatter'}",
            "secrets": _LOG_SECRETS,
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "skyflo"}},
    "root": {"handlers": ["console"], "level": env_str("SKYFLO_LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "slack_sdk": {"level": "WARNING"},  # its DEBUG lines hold request headers (the bot token)
        "daphne": {"level": "WARNING"},
        # "<name> ready." is how an operator (and tests/live.py) sees a worker come up, whatever the level.
        "celery.apps.worker": {"level": "INFO"},
    },
}
