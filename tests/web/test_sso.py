"""Single sign-on wiring: the login page, LOCAL_LOGIN=false, the IdP groups' mapping."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from streaming.services.accounts import claims_groups, user_roles_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso(settings):
    settings.OIDC_ISSUER = "http://idp.test"
    settings.OIDC_NAME = "Corp ID"
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": "Corp ID",
                    "client_id": "relay",
                    "secret": "s",
                    "settings": {"server_url": "http://idp.test"},
                }
            ]
        }
    }
    settings.OIDC_STAFF_GROUPS = ["admins"]
    settings.OIDC_REVIEWER_GROUPS = ["auditors"]
    return settings


def test_without_oidc_the_login_page_is_the_local_form_only(client, django_user_model) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' in page and "Sign in with" not in page
    django_user_model.objects.create_user("carol", password="pw-carol-1")
    response = client.post("/accounts/login/", {"username": "carol", "password": "pw-carol-1"})
    assert response.status_code == 302
    client.logout()
    signup = {"username": "eve", "password1": "pw-eve-long-1", "password2": "pw-eve-long-1"}
    client.post("/accounts/signup/", signup)  # local sign-up stays closed
    assert not django_user_model.objects.filter(username="eve").exists()


def test_with_oidc_the_login_page_offers_sign_in_with_the_provider(client, sso) -> None:
    page = client.get("/accounts/login/?next=/c/").content.decode()
    assert "Sign in with Corp ID" in page
    assert 'action="/accounts/oidc/oidc/login/?next=%2Fc%2F"' in page
    assert 'name="password"' in page  # LOCAL_LOGIN defaults to true


def test_local_login_false_offers_sso_only(client, sso, django_user_model) -> None:
    sso.LOCAL_LOGIN = False
    django_user_model.objects.create_superuser("root", password="pw-root-123")
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Corp ID" in page and 'name="password"' not in page
    response = client.post("/accounts/login/", {"username": "root", "password": "pw-root-123"})
    assert response.status_code == 403
    admin = client.get("/admin/login/?next=/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_idp_groups_map_to_staff_and_reviewers(sso, django_user_model) -> None:
    user = django_user_model.objects.create_user("dave")
    user_roles_sync(user=user, idp_groups=claims_groups({"groups": ["admins", "x"]}))
    user.refresh_from_db()
    assert user.is_staff and not user.groups.filter(name="Reviewers").exists()
    user_roles_sync(user=user, idp_groups=claims_groups({"groups": "auditors"}))
    user.refresh_from_db()
    assert user.is_staff and list(user.groups.values_list("name", flat=True)) == ["Reviewers"]
    user_roles_sync(user=user, idp_groups=claims_groups({}))
    user.refresh_from_db()
    assert not user.is_staff and not Group.objects.get(name="Reviewers").user_set.exists()
