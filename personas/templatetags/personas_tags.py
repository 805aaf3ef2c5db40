from __future__ import annotations

import uuid

from django import template

from interviews.models import Profile
from personas import selectors
from personas.models import FutureSelf

register = template.Library()


@register.filter
def avatar_url(future_self: FutureSelf) -> str | None:
    return selectors.avatar_url(future_self)


@register.simple_tag
def latest_generation(profile: Profile) -> uuid.UUID | None:
    return selectors.latest_generation_id(profile=profile)


@register.filter
def lookup(mapping: dict, key):
    return (mapping or {}).get(key)
