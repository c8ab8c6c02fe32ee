"""Settings, read from the environment (12-factor, as in cookiecutter-django).

Every value a deployment changes comes from an environment variable; the defaults run the
project on one machine with SQLite and the embedded Redis that ``make run`` starts.
"""

from pathlib import Path

import environ

from search.redis_server import running_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# Outside DEBUG there is no default: a deployment must bring its own secret.
SECRET_KEY = env("SECRET_KEY") if not DEBUG else env("SECRET_KEY", default="dev-only-insecure-secret-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# Outside DEBUG the site is served over HTTPS (TLS ends at a proxy in front of gunicorn, which
# says so in X-Forwarded-Proto): cookies only over HTTPS, HTTP redirected, HSTS.
# FINDER_HTTPS=0 serves plain HTTP, for a site that only listens on loopback (the benchmark).
FINDER_HTTPS = env.bool("FINDER_HTTPS", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = FINDER_HTTPS
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = FINDER_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if FINDER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = FINDER_HTTPS
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
    "rest_framework.authtoken",
    "axes",
    "catalog",
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username
# from one address, that pair is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "finder.urls"
# Sessions read from the process's cache, written through to the database: one query less
# per request.
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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database: the Celery worker the tests run reads it
    # from another thread, and SQLite's shared in-memory databases lock up under that.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:list"
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

REST_FRAMEWORK = {
    # Token first: its "WWW-Authenticate: Token" header is what makes a request without
    # credentials answer 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "search.api.exception_handler",
}

# Redis with RediSearch and RedisJSON: the search index and the Celery broker. Unset, the
# embedded server that ``manage.py runfinder`` started (if any) is found through its state file.
REDIS_DIR = VAR_DIR / "redis"
REDIS_URL = env("REDIS_URL", default="") or running_url(REDIS_DIR)

# The broker may be another server (CELERY_BROKER_URL); by default it is the same Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL
#: The queue the app sends tasks to and its workers take them from.
CELERY_TASK_DEFAULT_QUEUE = env("FINDER_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it is done, not when it starts: a worker that dies mid-batch
# loses nothing. Its unacknowledged tasks go back to the queue when a pool process dies
# (reject on worker lost), or, when the whole worker is killed, once the visibility timeout
# passes. Every task is idempotent, so one run twice does no harm.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("FINDER_BROKER_VISIBILITY_TIMEOUT", default=300)}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing to a broker that is down gives up after about a second (a web request waits for
# it); what could not be queued stays pending in the database for the sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.3}
# The sweep (search.tasks.sweep_index) runs on the worker started with beat (-B).
FINDER_SWEEP_SECONDS = env.float("FINDER_SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {"sweep-index": {"task": "search.tasks.sweep_index", "schedule": FINDER_SWEEP_SECONDS,
                                        "options": {"expires": FINDER_SWEEP_SECONDS}}}

# Search and embeddings.
FINDER_INDEX_PREFIX = env("FINDER_INDEX_PREFIX", default="finder")
FINDER_IMAGE_MODEL = env("FINDER_IMAGE_MODEL", default="auto")
FINDER_RESNET50_WEIGHTS = env("FINDER_RESNET50_WEIGHTS", default="")
FINDER_EMBED_BATCH = env.int("FINDER_EMBED_BATCH", default=32)
FINDER_MODEL_THREADS = env.int("FINDER_MODEL_THREADS", default=0)  # 0: all cores
# Where the models run: auto (a CUDA GPU if PyTorch sees one, else the CPU), cpu or cuda.
FINDER_DEVICE = env("FINDER_DEVICE", default="auto")
# The models' ONNX exports, made once per machine (see search/embedders.py).
FINDER_MODEL_CACHE = Path(env("FINDER_MODEL_CACHE", default=str(VAR_DIR / "models")))
FINDER_MAX_PHOTO_BYTES = env.int("FINDER_MAX_PHOTO_BYTES", default=10_000_000)
#: Catalog uploads in the admin: where they are kept, and the largest accepted.
FINDER_UPLOAD_DIR = Path(env("FINDER_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
FINDER_MAX_UPLOAD_BYTES = env.int("FINDER_MAX_UPLOAD_BYTES", default=2_000_000_000)
# Uploads above this size stream to a temporary file rather than memory (Django's default).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Each vector field's index: ALGORITHM:METRIC[:PARAM=VALUE,...] (see search/schema.py).
FINDER_TEXT_INDEX = env("FINDER_TEXT_INDEX", default="HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100")
# How vectors are stored and indexed: FLOAT16 (half the memory) or FLOAT32.
FINDER_VECTOR_TYPE = env("FINDER_VECTOR_TYPE", default="FLOAT16")
FINDER_IMAGE_INDEX = env("FINDER_IMAGE_INDEX", default="HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The ONNX exporter's optimiser logs each of its hundreds of steps.
    "loggers": {name: {"level": "WARNING"} for name in ("onnx_ir", "onnxscript", "torch.onnx")},
}
