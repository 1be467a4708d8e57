import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
django_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from .consumers import Listen, ListenPubsub  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_app,
    "websocket": URLRouter([
        path("ws/listen/default/<str:group>/", Listen.as_asgi()),
        path("ws/listen/pubsub/<str:group>/", ListenPubsub.as_asgi()),
    ]),
})
