"""Commands the Switchyard tests run against the Django site, with Django's own code.

    DJSITE_...=... /usr/bin/python3 tools.py '[{"op": "migrate"}, {"op": "users", ...}, ...]'

prints one JSON list: each command's result, in order.

  {"op": "migrate"}
  {"op": "users", "users": [{"username", "password", "is_active"?, "is_staff"?, "is_superuser"?, "groups"?: [names]}]}
      -> {username: pk}
  {"op": "session", "username", "backend"?, "expiry"?, "at"?: unix seconds, "data"?: {...}, "hash"?: str}
      -> the sessionid cookie value a login would set, made by the configured SESSION_ENGINE
         (expiry: Django's set_expiry(); at: the clock while signing)
  {"op": "delete", "session_key"} -> deletes a session (what Django's logout does to it)
  {"op": "vectors", "key", "old_key"} -> values computed with django.core.signing and salted_hmac
  {"op": "loads", "token", "key", "salt"} -> django.core.signing.loads of a token, or the error's name
"""
import json
import os
import sys
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")

import django  # noqa: E402

django.setup()

from importlib import import_module  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core import signing  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import baseconv  # noqa: E402
from django.utils.crypto import salted_hmac  # noqa: E402


def users(command):
    out = {}
    for spec in command["users"]:
        user = User.objects.create_user(spec["username"], password=spec["password"])
        user.is_active = spec.get("is_active", True)
        user.is_staff = spec.get("is_staff", False)
        user.is_superuser = spec.get("is_superuser", False)
        user.save()
        for name in spec.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        out[spec["username"]] = user.pk
    return out


def session(command):
    user = User.objects.get(username=command["username"])
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = command.get("backend", "django.contrib.auth.backends.ModelBackend")
    store[HASH_SESSION_KEY] = command.get("hash", user.get_session_auth_hash())
    for key, value in command.get("data", {}).items():
        store[key] = value
    if "expiry" in command:
        store.set_expiry(command["expiry"])
    with mock.patch("time.time", return_value=command.get("at", time.time())):
        store.save()
    return store.session_key


def delete(command):
    """Deletes a session as Django's logout does (flush -> delete)."""
    import_module(settings.SESSION_ENGINE).SessionStore(command["session_key"]).delete()
    return "deleted"


def vectors(command):
    key, old = command["key"], command["old_key"]
    payload = {"_auth_user_id": "7", "note": "héllo ☃", "list": list(range(30))}
    with mock.patch("time.time", return_value=1700000000.5):
        timestamped = signing.TimestampSigner(key, salt="sy.salt").sign("value")
        dumped = signing.dumps(payload, key=key, salt="sy.salt", compress=True)
        small = signing.dumps({"a": 1}, key=key, salt="sy.salt", compress=True)
        by_old_key = signing.dumps(payload, key=old, salt="django.contrib.sessions.backends.signed_cookies", compress=True)
    return {
        "salted_hmac_sha1": salted_hmac("sy.salt", "value", key).hexdigest(),
        "salted_hmac_sha256": salted_hmac("sy.salt", "value", key, algorithm="sha256").hexdigest(),
        "auth_hash": salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", "md5$salt$abc", key, algorithm="sha256",
        ).hexdigest(),
        "auth_hash_old_key": salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", "md5$salt$abc", old, algorithm="sha256",
        ).hexdigest(),
        "signed": signing.Signer(key).sign("hello"),
        "signed_salt": signing.Signer(key, salt="sy.salt").sign("héllo"),
        "timestamped": timestamped,
        "b62": [baseconv.base62.encode(n) for n in (0, 61, 62, 1700000000)],
        "dumped": dumped,
        "small": small,
        "payload": payload,
        "by_old_key": by_old_key,
    }


def loads(command):
    """signing.loads as Django does it, for the reverse direction."""
    try:
        return {"value": signing.loads(command["token"], key=command["key"], salt=command["salt"])}
    except signing.BadSignature as error:
        return {"error": type(error).__name__}


OPS = {
    "migrate": lambda command: call_command("migrate", verbosity=0) or "migrated",
    "users": users,
    "session": session,
    "vectors": vectors,
    "loads": loads,
    "delete": delete,
}

print(json.dumps([OPS[command["op"]](command) for command in json.loads(sys.argv[1])]))
