"""A small, ordinary Django site for Switchyard's Django tests.

Everything that differs between test runs comes from the environment:
  DJSITE_SECRET_KEY              SECRET_KEY
  DJSITE_DATABASE                postgres:<name> (127.0.0.1:5432, user postgres) or sqlite:<path>
  DJSITE_SESSION_ENGINE          db | cached_db | signed_cookies (default db)
  DJSITE_SESSION_SERIALIZER      json | pickle (default json)
  DJSITE_LAYER                   JSON: {"hosts": [...], "prefix": "...", "keys": [...], "pubsub_keys": [...]}:
                                 the Redis settings of the "default" (core) and "pubsub" channel layers
"""
import json
import os

SECRET_KEY = os.environ.get("DJSITE_SECRET_KEY", "django-insecure-switchyard-tests")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djsite.urls"
ASGI_APPLICATION = "djsite.asgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "djsite.apps.SiteConfig",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]

_database = os.environ.get("DJSITE_DATABASE", "sqlite:/tmp/djsite.sqlite3")
_kind, _name = _database.split(":", 1)
if _kind == "postgres":
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": _name,
        "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _name}}

SESSION_ENGINE = "django.contrib.sessions.backends." + os.environ.get("DJSITE_SESSION_ENGINE", "db")
if os.environ.get("DJSITE_SESSION_SERIALIZER") == "pickle":
    SESSION_SERIALIZER = "django.contrib.sessions.serializers.PickleSerializer"

LOGIN_REDIRECT_URL = "/whoami/"
LOGOUT_REDIRECT_URL = "/whoami/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast in tests; the hash is what matters

_layer = json.loads(os.environ.get("DJSITE_LAYER", '{"hosts": ["redis://127.0.0.1:6379/0"], "prefix": "djsite"}'))
_core = {"hosts": _layer["hosts"], "prefix": _layer["prefix"]}
_pubsub = dict(_core)
if _layer.get("keys"):
    _core["symmetric_encryption_keys"] = _layer["keys"]
if _layer.get("pubsub_keys"):  # channels_redis >= 4.2 only; 4.0 ignores it
    _pubsub["symmetric_encryption_keys"] = _layer["pubsub_keys"]
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": _core},
    "pubsub": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": _pubsub},
}
