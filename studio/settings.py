"""Project settings, read once from the environment with embedded defaults.

With no configuration the studio runs on one machine: SQLite (WAL) under var/, the
in-memory channel layer, local media, an in-process worker and the offline sketch
engine. Each environment variable below switches one part to its scaled form; the
README's configuration table lists them all.
"""

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


STUDIO_ENV = env("STUDIO_ENV", "development")
if STUDIO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("STUDIO_ENV must be 'development' or 'production'.")
PRODUCTION = STUDIO_ENV == "production"

VAR_DIR = Path(env("STUDIO_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """A key generated once per checkout and kept under var/, never committed."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("DJANGO_SECRET_KEY")
if PRODUCTION:
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "Production needs DJANGO_SECRET_KEY: at least 50 random characters."
        )
elif not SECRET_KEY:
    SECRET_KEY = _development_secret_key()

DEBUG = env_bool("STUDIO_DEBUG", not PRODUCTION)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Production needs ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
    "channels",
    "django_htmx",
    "accounts",
    "studio",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # PostgreSQL cannot store NUL: refused for every view at once, as a 400.
    "studio.null_characters.RefuseNullCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
# Our field template: labels without colons, help and errors under the input.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
ASGI_APPLICATION = "studio.asgi.application"
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
                "django.template.context_processors.csp",
                "accounts.context_processors.current_team",
            ],
        },
    },
]

# --- Database: SQLite in WAL mode by default, PostgreSQL from DATABASE_URL ---
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        from psycopg_pool import ConnectionPool

        # Under ASGI each request runs in a thread of its own, so persistent connections
        # are opened afresh per request (a PostgreSQL connect costs milliseconds); a pool
        # per process hands them out instead. A pooled connection is checked before use,
        # so after a database restart the next request gets a fresh one, not an error.
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": int(env("STUDIO_DB_POOL_SIZE", "10")),
            "timeout": 10,
            "check": ConnectionPool.check_connection,
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = 60
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "studio.sqlite3",
            "OPTIONS": {
                # WAL lets readers and the worker's writer proceed side by side;
                # IMMEDIATE takes the write lock up front so transactions don't deadlock.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # One file per test run, so parallel runs on one machine don't collide.
            # Reuse connections: opening one (with the PRAGMAs) costs about half a
            # millisecond, paid on every request and every worker database call otherwise.
            "CONN_MAX_AGE": 600,
            "TEST": {"NAME": VAR_DIR / env("STUDIO_TEST_DB", f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Live events: in-memory channel layer by default, Redis from REDIS_URL ---
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 gives up on a socket read after 5 s by default: exactly the
                # layer's blocking receive (BZPOPMIN, 5 s), so idle sockets and worker
                # wake-ups died with "Timeout reading" (django/channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Files: local media by default, a private S3 bucket when STUDIO_S3_BUCKET is set ---
MEDIA_ROOT = Path(env("STUDIO_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: files go through permission-checked views
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

STUDIO_SIGNED_URL_SECONDS = int(env("STUDIO_SIGNED_URL_SECONDS", "300"))
S3_BUCKET = env("STUDIO_S3_BUCKET")
if S3_BUCKET:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("STUDIO_S3_ENDPOINT_URL") or None,
            "region_name": env("STUDIO_S3_REGION", "us-east-1"),
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": STUDIO_SIGNED_URL_SECONDS,
            "file_overwrite": False,
            "addressing_style": "path",
            "signature_version": "s3v4",
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Accounts ---
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studio:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
MAILERS = {
    "default": {
        "BACKEND": env(
            "EMAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend"
            if PRODUCTION
            else "django.core.mail.backends.console.EmailBackend",
        ),
        "OPTIONS": {
            "host": env("EMAIL_HOST", "localhost"),
            "port": int(env("EMAIL_PORT", "25")),
            "username": env("EMAIL_HOST_USER"),
            "password": env("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
        }
        if PRODUCTION
        else {},
    }
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "studio@localhost")
INVITATION_DAYS = int(env("STUDIO_INVITATION_DAYS", "7"))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security: a CSP with no inline script; strict cookies; HSTS in production ---
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"]
    + ([env("STUDIO_S3_ENDPOINT_URL")] if env("STUDIO_S3_ENDPOINT_URL") else [])
    + (["https://*.amazonaws.com"] if S3_BUCKET else []),
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("STUDIO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("STUDIO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Throttling (accounts/throttle.py): "count/period", period s, m, h or d, per client ---
STUDIO_THROTTLE_ENABLED = env_bool("STUDIO_THROTTLE_ENABLED", True)
STUDIO_THROTTLE_RATES = {
    "login": env("STUDIO_THROTTLE_LOGIN", "10/m"),  # per IP address
    "signup": env("STUDIO_THROTTLE_SIGNUP", "10/h"),  # per IP address
    "invite": env("STUDIO_THROTTLE_INVITE", "30/h"),  # per IP address
    "generate": env("STUDIO_THROTTLE_GENERATE", "30/m"),  # per user, pages and API
}
# Trusted reverse proxies in front of the studio: the client's address is read from
# X-Forwarded-For that many entries from the end. 0 trusts no header.
STUDIO_NUM_PROXIES = int(env("STUDIO_NUM_PROXIES", "0"))
NINJA_NUM_PROXIES = STUDIO_NUM_PROXIES

# --- Studio ---
OPENAI_API_KEY = env("OPENAI_API_KEY")
OPENAI_BASE_URL = env("OPENAI_BASE_URL") or None
OPENAI_TIMEOUT = float(env("OPENAI_TIMEOUT", "180"))
OPENAI_MAX_ATTEMPTS = int(env("OPENAI_MAX_ATTEMPTS", "4"))
OPENAI_MAX_BACKOFF = float(env("OPENAI_MAX_BACKOFF", "60"))
STUDIO_SKETCH_STEP_DELAY = float(env("STUDIO_SKETCH_STEP_DELAY", "0"))
STUDIO_STARTING_CREDITS = int(env("STUDIO_STARTING_CREDITS", "500"))
STUDIO_WORKER_CONCURRENCY = int(env("STUDIO_WORKER_CONCURRENCY", "64"))
STUDIO_JOB_LEASE_SECONDS = int(env("STUDIO_JOB_LEASE_SECONDS", "60"))
STUDIO_JOB_MAX_ATTEMPTS = int(env("STUDIO_JOB_MAX_ATTEMPTS", "3"))
# The run command sets this so one process serves pages and runs jobs.
STUDIO_INPROCESS_WORKER = env_bool("STUDIO_INPROCESS_WORKER", False)
STUDIO_MAX_UPLOAD_BYTES = int(env("STUDIO_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
STUDIO_MAX_UPLOAD_PIXELS = int(env("STUDIO_MAX_UPLOAD_PIXELS", "40000000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = STUDIO_MAX_UPLOAD_BYTES * 3


def _models_override() -> dict:
    """Operator changes to the model registry: JSON inline or a path to a JSON file."""
    raw = env("STUDIO_MODELS")
    if not raw:
        return {}
    text = Path(raw).read_text() if not raw.lstrip().startswith("{") else raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"STUDIO_MODELS is not valid JSON: {error}") from error


STUDIO_MODELS = _models_override()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("STUDIO_LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# Development serves static files straight from the source folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
