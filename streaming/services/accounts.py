"""Accounts from single sign-on: the IdP's groups decide who is staff and who reviews."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group

REVIEWERS = "Reviewers"


def user_roles_sync(*, user: Any, idp_groups: Iterable[str]) -> None:
    """Staff iff in one of OIDC_STAFF_GROUPS, a Reviewer (staff, view-only) iff in one of
    OIDC_REVIEWER_GROUPS; at every SSO login, so a change at the IdP reaches the app.
    Superusers keep their rights."""
    groups = set(idp_groups)
    staff = bool(groups & set(settings.OIDC_STAFF_GROUPS))
    reviewer = bool(groups & set(settings.OIDC_REVIEWER_GROUPS))
    reviewers, _ = Group.objects.get_or_create(name=REVIEWERS)
    if reviewer:
        user.groups.add(reviewers)
    else:
        user.groups.remove(reviewers)
    wanted = staff or reviewer or user.is_superuser
    if user.is_staff != wanted:
        user.is_staff = wanted
        user.save(update_fields=["is_staff"])


def claims_groups(claims: Any) -> list[str]:
    """The groups claim (OIDC_GROUPS_CLAIM) as a list of names, whatever its shape."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) if isinstance(claims, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []
