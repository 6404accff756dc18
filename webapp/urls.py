from django.contrib import admin
from django.urls import include, path

from streaming.web import sso

urlpatterns = [
    path("accounts/login/", sso.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    # Single sign-on's redirects and callback (django-allauth; local sign-up is closed).
    path("accounts/", include("allauth.urls")),
    path("admin/login/", sso.admin_login),
    path("admin/", admin.site.urls),
    path("", include("streaming.web.urls")),
]
