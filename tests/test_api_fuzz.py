"""Schemathesis over ``/api/openapi.json``: examples, coverage and fuzzing phases
against the real app (WSGI, in process, offline providers), as a user who owns
an interview, a profile, future selves and a conversation, so path and body ids
hit real objects as well as random ones.

Checks: no server error (offline, not even the documented provider 503/502),
every status code, content type and body conforms to the schema. A separate
test proves every endpoint but the public ones answers 401 without auth.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from futureself.api import api
from futureself.models import ApiToken
from tests.builders import SAMPLE_ANSWERS, make_conversation, make_future_self, make_interview, make_profile

PUBLIC = {("GET", "/api/status")}
# Deleting the person would turn every later example into a 401: it has its own test below.
DESTRUCTIVE = {("DELETE", "/api/me")}
ID_FIELDS = ("interview_id", "profile_id", "future_self_id", "conversation_id")

# The ids of the objects the current test's user owns, read by the hooks while cases are drawn.
SEEDED: dict[str, str] = {}  # plus "token": the owner's bearer token


def _with_real_ids(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    return {key: SEEDED.get(key, value) if key in ID_FIELDS else value for key, value in values.items()}


def _pointed_at_real_objects(case: Case) -> Case:
    case.path_parameters = _with_real_ids(case.path_parameters)
    case.body = _with_real_ids(case.body)
    return case


@schemathesis.hook
def flatmap_case(context, case):
    # Only valid cases: swapping ids into a deliberately invalid body would make it valid.
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return st.just(case)
    return st.booleans().map(lambda real: _pointed_at_real_objects(case) if real else case)


@schemathesis.auth(refresh_interval=None)
class OwnerToken:
    def get(self, case, context):
        return SEEDED.get("token", "")  # also called while collecting, before any test seeds

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def _app_in_this_transaction():
    """Keep the test's database connection open across requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cache.clear()
    yield
    cache.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def owned_objects(alice) -> None:
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS, status="completed")
    profile = make_profile(interview=interview)
    future_self = make_future_self(profile=profile)
    make_future_self(profile=profile, path="Stay in Lyon")
    conversation = make_conversation(
        future_self=future_self, messages=[("user", "Was it worth it?"), ("future_self", "Mostly, yes.")]
    )
    SEEDED.clear()
    SEEDED.update(
        interview_id=str(interview.pk),
        profile_id=str(profile.pk),
        future_self_id=str(future_self.pk),
        conversation_id=str(conversation.pk),
    )
    SEEDED["token"] = ApiToken.objects.issue(user=alice, name="fuzz")[1]


# Loaded eagerly: Schemathesis' lazy ``from_fixture`` loader does not run on pytest 9.2.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application()).exclude(
    func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in DESTRUCTIVE
)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
@pytest.mark.usefixtures("_app_in_this_transaction", "fake_image")
def test_every_endpoint_answers_within_its_schema_and_never_fails(case, owned_objects):
    # A schema-valid request may still break a rule across fields (`interview_id` xor `transcript`,
    # profile fields checked as ProfileData): "valid data must be accepted" does not hold here.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, response.text


def _operations() -> list[tuple[str, str]]:
    spec = api.get_openapi_schema()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), _operations())
def test_only_the_public_endpoints_answer_without_auth(method, path):
    client = Client(enforce_csrf_checks=True)
    url = path
    for name in ID_FIELDS:
        url = url.replace("{" + name + "}", "00000000-0000-0000-0000-000000000000")
    response = client.generic(method, url, data="{}", content_type="application/json")
    if (method, path) in PUBLIC:
        assert response.status_code == 200
    else:
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} without auth"
        assert response.json()["code"] == "unauthorized"


@pytest.mark.django_db
def test_the_public_endpoints_are_only_status_openapi_and_docs(client):
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
    unsecured = {
        (method, path)
        for method, path in _operations()
        if not api.get_openapi_schema()["paths"][path][method.lower()].get("security")
    }
    assert unsecured == PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), _operations())
def test_a_bad_bearer_token_gets_401_not_a_csrf_error(method, path):
    if (method, path) in PUBLIC:
        return
    url = path
    for name in ID_FIELDS:
        url = url.replace("{" + name + "}", "00000000-0000-0000-0000-000000000000")
    client = Client(enforce_csrf_checks=True)
    response = client.generic(method, url, data="{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401, f"{method} {path} answered {response.status_code} to a bad token"


@pytest.mark.django_db
def test_deleting_me_with_a_token_answers_204_then_the_token_is_dead(alice_api):
    assert alice_api.delete("/api/me").status_code == 204
    assert alice_api.get("/api/me/export").status_code == 401


class Workflow(schema.as_state_machine()):
    """Calls chained through the links Schemathesis infers from the schema (ids returned, then sent)."""

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        __tracebackhide__ = True
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=[positive_data_acceptance],
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


@pytest.mark.slow
@pytest.mark.usefixtures("_app_in_this_transaction", "fake_image", "owned_objects")
def test_sequences_of_calls_linked_by_their_ids_stay_within_the_schema():
    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
