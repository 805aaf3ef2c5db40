from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from futureself.models import ApiToken
from tests.builders import make_interview
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_working_token_alone_on_its_last_line(alice):
    out = StringIO()
    call_command("create_api_token", "alice", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    assert ApiToken.objects.filter(user=alice).count() == 1
    interview = make_interview(owner=alice)
    assert ApiClient(raw).get(f"/api/interview/{interview.pk}").status_code == 200


def test_create_api_token_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())
