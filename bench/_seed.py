"""Create benchmark people: ``python -m bench._seed COUNT LABEL`` prints
``[{"conversation_id", "token"}, ...]`` as JSON (run with the app's environment)."""

from __future__ import annotations

import json
import sys


def main(count: int, label: str) -> list[dict[str, str]]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from futureself.models import ApiToken
    from tests.builders import make_conversation

    people = []
    with transaction.atomic():
        for index in range(count):
            user = get_user_model().objects.create_user(username=f"bench-{label}-{index}", password=None)
            _, raw = ApiToken.objects.issue(user=user, name="voice bench")
            conversation = make_conversation(owner=user)
            people.append({"conversation_id": str(conversation.pk), "token": raw})
    return people


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
