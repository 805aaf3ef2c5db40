import pytest
from django.http import Http404

from conversations.selectors import conversation_get_for_owner
from futureself.ownership import Owner
from interviews.selectors import interview_get_for_owner, profile_get_for_owner
from personas.selectors import future_self_get_for_owner
from tests.builders import make_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_conversation(alice):
    return make_conversation(owner=alice)


def test_the_owner_reaches_every_object_of_their_session(alice, alices_conversation):
    owner = Owner(user_id=alice.pk)
    future_self = alices_conversation.future_self
    profile = future_self.profile
    assert conversation_get_for_owner(owner=owner, pk=alices_conversation.pk) == alices_conversation
    assert future_self_get_for_owner(owner=owner, pk=future_self.pk) == future_self
    assert profile_get_for_owner(owner=owner, pk=profile.pk) == profile
    assert interview_get_for_owner(owner=owner, pk=profile.interview.pk) == profile.interview


@pytest.mark.parametrize("intruder", [Owner(user_id=-1), Owner(guest_key="someone"), Owner()])
def test_everyone_else_gets_404_for_every_object(alices_conversation, intruder):
    future_self = alices_conversation.future_self
    with pytest.raises(Http404):
        conversation_get_for_owner(owner=intruder, pk=alices_conversation.pk)
    with pytest.raises(Http404):
        future_self_get_for_owner(owner=intruder, pk=future_self.pk)
    with pytest.raises(Http404):
        profile_get_for_owner(owner=intruder, pk=future_self.profile.pk)
    with pytest.raises(Http404):
        interview_get_for_owner(owner=intruder, pk=future_self.profile.interview.pk)
