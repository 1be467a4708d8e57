"""Minimal Django settings for the Django Channels reference server (daphne + channels_redis)."""
import os
from urllib.parse import urlparse

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
ASGI_APPLICATION = "asgi.application"
USE_TZ = True

_redis = urlparse(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
CHANNEL_LAYERS = {
    "default": {
        # The core layer: what the Channels tutorial and most deployments use.
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [f"redis://{_redis.hostname}:{_redis.port or 6379}{_redis.path or '/0'}"],
            "prefix": "benchdj",
        },
    }
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
