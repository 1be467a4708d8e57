from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "djsite"

    def ready(self):
        from . import signals  # noqa: F401  (connects the receivers)
