from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view()),
    path("logout/", auth_views.LogoutView.as_view()),
    path("password_change/", auth_views.PasswordChangeView.as_view(success_url="/whoami/")),
    path("whoami/", views.whoami),
    path("send/", views.send),
]
