"""Settings every use shares, read from the environment (12-factor, as in cookiecutter-django).

Every value a deployment changes comes from an environment variable; the defaults run the
project on one machine with SQLite and the embedded Redis that ``make run`` starts. What differs
by use is in the module beside this one that ``DJANGO_SETTINGS_MODULE`` names: ``production``
(the default: DEBUG off, a secret required, HTTPS), ``local`` (``make run``) and ``test``.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import environ

from core.redis_client import sentinel_options

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container health check, from inside the container
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

#: Runtime state that is never committed: the SQLite database, uploaded images, Redis data.
VAR_DIR = Path(env("FINDER_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

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
    "knox",
    "axes",
    "core",
    "devserver",
    "catalog",
    "search",
    "shoppers",
    "analytics",
    "storefront",
]

MIDDLEWARE = [
    # First in, last out: every request gets its id, its log line and its metrics, whatever answers it.
    "core.middleware.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CSRF, which would otherwise read (and spool) a request body to look for its token.
    "core.middleware.BodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): the finder's own scripts, styles and images only.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"], "img-src": ["'self'", "data:"], "object-src": ["'none'"],
    "base-uri": ["'self'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
}}
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The client's address: REMOTE_ADDR, unless FINDER_PROXY_COUNT trusted proxies (a load balancer,
# the TLS proxy) stand in front and append it to X-Forwarded-For. Throttles, rate limits and
# login lockouts all key on the address from core.throttling.client_network.
FINDER_PROXY_COUNT = env.int("FINDER_PROXY_COUNT", default=0)

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username
# from one address, that pair is locked out for AXES_COOLOFF_MINUTES. Attempts are kept in
# the shared cache, so every web process sees them. (Logins and sign-ups are also rate
# limited per address and per username: FINDER_RATES.)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_network"

# Throttling: requests per period, per signed-in user (or, signed out, per address). Off with
# FINDER_THROTTLE=0, for load tests and benchmarks.
FINDER_THROTTLE = env.bool("FINDER_THROTTLE", default=True)
FINDER_RATES = {
    "anon": env("FINDER_RATE_ANON", default="120/m"),  # any API request, signed out
    "user": env("FINDER_RATE_USER", default="600/m"),  # any API request, signed in
    "search": env("FINDER_RATE_SEARCH", default="120/m"),  # the search box, page or API
    "pages": env("FINDER_RATE_PAGES", default="240/m"),  # the catalog, product and similar pages, per address
    "suggest": env("FINDER_RATE_SUGGEST", default="600/m"),  # autocomplete, as a shopper types
    "photo": env("FINDER_RATE_PHOTO", default="20/m"),  # search by photo, page or API
    "login": env("FINDER_RATE_LOGIN", default="20/m"),  # login attempts per address
    "login_username": env("FINDER_RATE_LOGIN_USERNAME", default="100/h"),  # per username, from anywhere
    "password_reset": env("FINDER_RATE_PASSWORD_RESET", default="5/h"),  # reset mails asked per address
    "signup": env("FINDER_RATE_SIGNUP", default="10/h"),  # sign-ups per address
}
RATELIMIT_IP_META_KEY = "core.throttling.client_network"
RATELIMIT_FAIL_OPEN = True  # with Redis (the shared cache) down, pages keep answering
#: Shopper photos embedded at once in one web process; more wait (up to FINDER_PHOTO_WAIT
#: seconds, then "busy, try again") instead of stalling every page of that process.
FINDER_PHOTO_CONCURRENCY = env.int("FINDER_PHOTO_CONCURRENCY", default=1)
FINDER_PHOTO_WAIT = env.float("FINDER_PHOTO_WAIT", default=10.0)
#: The deepest result a query may ask for (k x page): deeper KNN costs Redis, single-threaded,
#: tens of milliseconds per request.
FINDER_MAX_DEPTH = env.int("FINDER_MAX_DEPTH", default=300)
#: A past search is offered as a suggestion once this many searches found something with it.
FINDER_SUGGEST_MIN_SEARCHES = env.int("FINDER_SUGGEST_MIN_SEARCHES", default=3)

ROOT_URLCONF = "finder.urls"
# Sessions read from the shared cache (Redis), written through to the database: one query
# less per request, and a session ended in one web process is ended in all of them.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
WSGI_APPLICATION = "finder.wsgi.application"

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
                "storefront.context.storefront",
            ],
        },
    },
    # What a page draws many times over, its product cards (``storefront/templatetags/shop.py``).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"environment": "storefront.jinja.environment"},
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# A connection is kept for this many seconds and reused by the thread's next requests (checked
# first, so one the server closed meanwhile is replaced), rather than opened for every request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("FINDER_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A transaction takes the write lock as it begins (BEGIN IMMEDIATE), waiting up to the timeout
    # for it: two that began as readers and both went on to write would otherwise deadlock, and
    # SQLite answers one at once with "database is locked" (a web request's delete against a
    # worker's write, seen in the test suite).
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "storefront.authentication.RevokeTokensOnPasswordChange"},
]
LOGIN_URL = "login"
#: The mail server that sends password reset links (smtp+tls://user:password@host:587); without
#: one the reset page says so, and nothing is sent.
EMAIL_URL = env("EMAIL_URL", default="")
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
#: The storefront (pages and the API's read endpoints) is open to every shopper; 1 puts it
#: behind a login, for a private catalog.
FINDER_LOGIN_REQUIRED = env.bool("FINDER_LOGIN_REQUIRED", default=False)
LOGIN_REDIRECT_URL = "storefront:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
#: Whether Django serves the photos itself (development); in production the web server does.
FINDER_SERVE_MEDIA = env.bool("FINDER_SERVE_MEDIA", default=False)
# Product photos: written whole or not at all, under names of their own (catalog/storage.py).
STORAGES = {
    "default": {"BACKEND": "catalog.storage.PhotoStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    # Token first: its "WWW-Authenticate: Token" header is what makes a request without
    # credentials answer 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "storefront.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.AnonThrottle", "core.throttling.UserThrottle",
                                 "core.throttling.ScopedThrottle"],
    "EXCEPTION_HANDLER": "storefront.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Prices are JSON numbers (12.99), not strings.
    "COERCE_DECIMAL_TO_STRING": False,
}
# The API's OpenAPI schema (/api/v1/schema) and its docs page (/api/v1/docs), with Swagger UI's
# files from the sidecar package: nothing from a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Fashion Product Finder API",
    "DESCRIPTION": "Search a fashion catalog by words, by photo and by similarity. The catalog's read endpoints "
                   "are public (unless the shop is private); send `Authorization: Token <token>` for the rest. "
                   "Errors answer `{\"detail\": message}`, or for bad parameters `{parameter: [messages]}`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["storefront.access.CatalogReader"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# API tokens (django-rest-knox): only a digest is stored; each expires.
REST_KNOX = {"TOKEN_TTL": timedelta(days=env.int("FINDER_TOKEN_DAYS", default=30)), "AUTO_REFRESH": False}

# Redis with RediSearch and RedisJSON: the search index and the Celery broker. One server
# (REDIS_URL), or a primary with replicas that Redis Sentinel watches (REDIS_SENTINELS, which
# win). Neither set, the Redis that ``manage.py runfinder`` started (an embedded server, or a
# group with sentinels), which it describes in FINDER_STARTED_REDIS while it runs. See
# core/redis_client.py and docs/scaling.md.
FINDER_STARTED_REDIS = VAR_DIR / "redis.env"
#: Where runfinder keeps the data of the Redis it starts: one server, or a group.
REDIS_DIR = VAR_DIR / "redis"
REDIS_GROUP_DIR = VAR_DIR / "redis-group"
_redis = {name: env(name, default="") for name in ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER",
                                                  "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD")}
if not (_redis["REDIS_URL"] or _redis["REDIS_SENTINELS"]) and FINDER_STARTED_REDIS.exists():
    _redis.update(line.split("=", 1) for line in FINDER_STARTED_REDIS.read_text().splitlines() if "=" in line)
REDIS_URL = _redis["REDIS_URL"]
REDIS_SENTINELS = [address for address in _redis["REDIS_SENTINELS"].split(",") if address]
REDIS_SENTINEL_MASTER = _redis["REDIS_SENTINEL_MASTER"] or "finder"
#: The data nodes' password (REDIS_URL carries its own), and the sentinels' own, if they ask one.
REDIS_PASSWORD = _redis["REDIS_PASSWORD"]
REDIS_SENTINEL_PASSWORD = _redis["REDIS_SENTINEL_PASSWORD"]
#: Queries may read from a replica (a moment behind the primary); writes always go to the primary.
FINDER_READ_FROM_REPLICAS = env.bool("FINDER_READ_FROM_REPLICAS", default=False)

# One cache for every process, on the same Redis (a database of its own): sessions, throttle
# counts, login lockouts, task delivery counts. The server is looked up at first use, so a
# test that points the settings at a Redis of its own reaches it too.
CACHES = {"default": {"BACKEND": "core.cache.SharedRedisCache", "LOCATION": "", "KEY_PREFIX": "finder"}}

# The broker may be another server (CELERY_BROKER_URL); by default it is the same Redis (behind
# Sentinel: kombu's Sentinel transport, with the transport options below).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL
_sentinel_transport = {}
if REDIS_SENTINELS and not env("CELERY_BROKER_URL", default=""):
    _auth = f":{quote(REDIS_PASSWORD, safe='')}@" if REDIS_PASSWORD else ""
    CELERY_BROKER_URL = ";".join(f"sentinel://{_auth}{address}/0" for address in REDIS_SENTINELS)
    _sentinel_transport = {"master_name": REDIS_SENTINEL_MASTER,
                           "sentinel_kwargs": sentinel_options(REDIS_SENTINEL_PASSWORD)}
#: The queue the app sends tasks to and its workers take them from.
CELERY_TASK_DEFAULT_QUEUE = env("FINDER_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
#: Catalog imports have a queue of their own (make run's text worker takes it too).
FINDER_IMPORT_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.imports"
#: Fetching photos from image links waits on the shops' servers, not the CPU: on the imports queue too.
CELERY_TASK_ROUTES = {"catalog.tasks.import_upload": {"queue": FINDER_IMPORT_QUEUE},
                      "catalog.tasks.fetch_images": {"queue": FINDER_IMPORT_QUEUE}}
# Every task has time limits: one that hangs is stopped (and, for imports, its run marked
# failed) rather than holding a worker forever. An import may take long; a batch may not.
FINDER_IMPORT_TIME_LIMIT = env.int("FINDER_IMPORT_TIME_LIMIT", default=3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("FINDER_TASK_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 30
CELERY_TASK_ANNOTATIONS = {"catalog.tasks.import_upload": {"soft_time_limit": FINDER_IMPORT_TIME_LIMIT,
                                                           "time_limit": FINDER_IMPORT_TIME_LIMIT + 60}}
# A task is acknowledged when it is done, not when it starts: a worker that dies mid-batch
# loses nothing. Its unacknowledged tasks go back to the queue when a pool process dies
# (reject on worker lost), or, when the whole worker is killed, once the visibility timeout
# passes. Every task is idempotent, so one run twice does no harm; one that keeps killing its
# worker is given up after a few deliveries (finder.celery.BoundedTask). The visibility timeout
# is longer than the longest task may run, so a task still running is never handed to a
# second worker; work a dead worker held meanwhile is re-queued by the sweep.
# Workers look for such tasks every 10 s (kombu's default looks only every tenth time, and a
# worker killed in the middle of looking held the others off for its lock's 5 minutes).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("FINDER_BROKER_VISIBILITY_TIMEOUT",
                                                                 default=FINDER_IMPORT_TIME_LIMIT + 300),
                                   "unacked_restore_throttle": 1, "unacked_mutex_expire": 30,
                                   **_sentinel_transport}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing to a broker that is down gives up after about a second (a web request waits for
# it); what could not be queued stays pending in the database for the sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.3}
# Search analytics (analytics/services.py): recorded as shoppers search (FINDER_ANALYTICS=0:
# not at all), rolled up into the database by the beat worker, kept this many days.
FINDER_ANALYTICS = env.bool("FINDER_ANALYTICS", default=True)
FINDER_ANALYTICS_ROLLUP_SECONDS = env.float("FINDER_ANALYTICS_ROLLUP_SECONDS", default=60.0)
FINDER_ANALYTICS_DAYS = env.int("FINDER_ANALYTICS_DAYS", default=90)
# The catalog maps (search/mapping.py): t-SNE, or PCA (faster, coarser). Maps and the photo
# classifiers (search/looks.py) are looked at this often,
# and recomputed when the catalog changed.
FINDER_MAP_METHOD = env("FINDER_MAP_METHOD", default="tsne")
FINDER_MAP_SECONDS = env.float("FINDER_MAP_SECONDS", default=120.0)
#: While writes keep coming, the kept answers are retired at most once in this many seconds (the
#: first write after a quiet spell at once): an answer is never further behind the index.
FINDER_EPOCH_SECONDS = env.float("FINDER_EPOCH_SECONDS", default=2.0)
#: The shop's currency (ISO 4217): every price is in it; a feed's price in another is refused.
FINDER_CURRENCY = env("FINDER_CURRENCY", default="USD").upper()
#: Fetch photos from image links on private addresses too (an intranet's shop; the tests).
FINDER_FETCH_ALLOW_PRIVATE = env.bool("FINDER_FETCH_ALLOW_PRIVATE", default=False)
# The sweep (search.tasks.sweep_index) runs on the worker started with beat (-B).
FINDER_SWEEP_SECONDS = env.float("FINDER_SWEEP_SECONDS", default=60.0)
#: Work queued longer ago than this is queued again by the sweep, and shown as delayed.
FINDER_PENDING_TOO_LONG = env.int("FINDER_PENDING_TOO_LONG", default=600)
CELERY_BEAT_SCHEDULE = {
    "sweep-index": {"task": "search.tasks.sweep_index", "schedule": FINDER_SWEEP_SECONDS,
                    "options": {"expires": FINDER_SWEEP_SECONDS}},
    "fetch-overdue-images": {"task": "catalog.tasks.fetch_overdue_images", "schedule": FINDER_SWEEP_SECONDS,
                             "options": {"expires": FINDER_SWEEP_SECONDS}},
    "remove-stale-files": {"task": "catalog.tasks.remove_stale_files", "schedule": 3600.0,
                           "options": {"expires": 3600}},
    "refresh-catalog-maps": {"task": "search.tasks.refresh_maps", "schedule": FINDER_MAP_SECONDS,
                             "options": {"expires": FINDER_MAP_SECONDS}},
    "refit-photo-looks": {"task": "search.tasks.refresh_looks", "schedule": FINDER_MAP_SECONDS,
                          "options": {"expires": FINDER_MAP_SECONDS}},
    "roll-up-searches": {"task": "analytics.tasks.roll_up_searches", "schedule": FINDER_ANALYTICS_ROLLUP_SECONDS,
                         "options": {"expires": FINDER_ANALYTICS_ROLLUP_SECONDS}},
    "remove-expired-api-tokens": {"task": "storefront.tasks.remove_expired_api_tokens", "schedule": 3600.0,
                                  "options": {"expires": 3600}},
    "remove-expired-sessions": {"task": "storefront.tasks.remove_expired_sessions", "schedule": 86400.0,
                                "options": {"expires": 3600}},
}

# Search and embeddings.
FINDER_INDEX_PREFIX = env("FINDER_INDEX_PREFIX", default="finder")
#: The index store backend (search/store/base.py): Redis with RediSearch and RedisJSON.
FINDER_INDEX_STORE = env("FINDER_INDEX_STORE", default="search.store.redisearch.RedisIndexStore")
FINDER_IMAGE_MODEL = env("FINDER_IMAGE_MODEL", default="auto")
FINDER_RESNET50_WEIGHTS = env("FINDER_RESNET50_WEIGHTS", default="")
FINDER_EMBED_BATCH = env.int("FINDER_EMBED_BATCH", default=32)
FINDER_MODEL_THREADS = env.int("FINDER_MODEL_THREADS", default=0)  # 0: all cores
# Whether ONNX Runtime's threads spin while waiting for work: faster for a process alone on its cores
# (15% for MiniLM here), CPU burnt where processes share them (runfinder and docker-compose turn it off).
FINDER_MODEL_SPIN = env.bool("FINDER_MODEL_SPIN", default=True)
# MiniLM's matrix multiplications in int8 on the CPU (search/embedding/runtime.py): about twice
# as fast; its vectors within cosine 0.985 of float32's. Off: float32.
FINDER_TEXT_INT8 = env.bool("FINDER_TEXT_INT8", default=True)
#: Answers (similar products, their pages, the facets) each process keeps until the index
#: changes; 0 keeps none. Each is shared with the other processes through the shared cache for
#: FINDER_SHARED_ANSWER_SECONDS (compressed; 0 keeps them to each process).
FINDER_ANSWER_CACHE = env.int("FINDER_ANSWER_CACHE", default=2048)
FINDER_SHARED_ANSWER_SECONDS = env.int("FINDER_SHARED_ANSWER_SECONDS", default=300)
#: The largest page a kept page may grow to; a request for a larger one is refused with a 400.
FINDER_MAX_PAGE_BYTES = env.int("FINDER_MAX_PAGE_BYTES", default=2_000_000)
#: ``/floor/``, a page that does nothing, for the benchmark to measure pages against.
FINDER_FLOOR_VIEW = env.bool("FINDER_FLOOR_VIEW", default=False)
# Where the models run: auto (a CUDA GPU if PyTorch sees one, else the CPU), cpu or cuda.
FINDER_DEVICE = env("FINDER_DEVICE", default="auto")
# The models' ONNX exports, made once per machine (see search/embedding/runtime.py).
FINDER_MODEL_CACHE = Path(env("FINDER_MODEL_CACHE", default=str(VAR_DIR / "models")))
FINDER_MAX_PHOTO_BYTES = env.int("FINDER_MAX_PHOTO_BYTES", default=10_000_000)
#: The largest request body of any view that takes no upload (a form, an API write).
FINDER_MAX_BODY_BYTES = env.int("FINDER_MAX_BODY_BYTES", default=1_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = FINDER_MAX_BODY_BYTES
# Django 6 reads a URL typed without a scheme as https: so do the admin's forms now.
FORMS_URLFIELD_ASSUME_HTTPS = True
#: The write API's bulk endpoint takes a body up to this size (read a line at a time).
FINDER_MAX_BULK_BYTES = env.int("FINDER_MAX_BULK_BYTES", default=10_000_000)
#: A request body must arrive within FINDER_BODY_GRACE seconds plus its length at this many bytes a
#: second (finder/wsgi.py): a client that trickles it slower is cut off and frees its web thread.
FINDER_BODY_GRACE = env.float("FINDER_BODY_GRACE", default=10.0)
FINDER_MIN_BODY_RATE = env.int("FINDER_MIN_BODY_RATE", default=50_000)
#: Catalog uploads in the admin: where they are kept, and the largest accepted.
FINDER_UPLOAD_DIR = Path(env("FINDER_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
FINDER_MAX_UPLOAD_BYTES = env.int("FINDER_MAX_UPLOAD_BYTES", default=2_000_000_000)
#: Uploaded catalog files are deleted this many days after upload (their runs' reports stay).
FINDER_UPLOAD_RETENTION_DAYS = env.int("FINDER_UPLOAD_RETENTION_DAYS", default=7)
# Uploads above this size stream to a temporary file rather than memory (Django's default).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Each vector field's index: ALGORITHM:METRIC[:PARAM=VALUE,...] (see search/schema.py).
FINDER_TEXT_INDEX = env("FINDER_TEXT_INDEX", default="HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100")
# How vectors are stored and indexed: FLOAT16 (half the memory) or FLOAT32.
FINDER_VECTOR_TYPE = env("FINDER_VECTOR_TYPE", default="FLOAT16")
FINDER_IMAGE_INDEX = env("FINDER_IMAGE_INDEX", default="HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100")

#: Prometheus's scrape of /metrics needs ``Authorization: Bearer <token>``; unset, /metrics is a 404.
FINDER_METRICS_TOKEN = env("FINDER_METRICS_TOKEN", default="")
#: "text" (the default) or "json": one JSON object a line, for a log collector.
FINDER_LOG_FORMAT = env("FINDER_LOG_FORMAT", default="text").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                 "datefmt": "%Y-%m-%dT%H:%M:%S%z"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": FINDER_LOG_FORMAT,
                             "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The ONNX exporter's optimiser logs each of its hundreds of steps; openTSNE, its choices.
    "loggers": {name: {"level": "WARNING"} for name in ("onnx_ir", "onnxscript", "torch.onnx", "openTSNE")},
}
