"""Signing a user out of Switchyard's live connections when Django signs them out.

Switchyard's consumers of a signed-in user join the group "django.user.<pk>" and close
on a "django.logout" message (switchyard/django: joinDjangoUserGroup, DJANGO_LOGOUT).
"""
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

User = get_user_model()


def sign_out(pk):
    async_to_sync(get_channel_layer().group_send)(f"django.user.{pk}", {"type": "django.logout"})


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        sign_out(user.pk)


@receiver(pre_save, sender=User)
def on_password_change(sender, instance, **kwargs):
    if instance.pk and sender.objects.filter(pk=instance.pk).exclude(password=instance.password).exists():
        sign_out(instance.pk)
