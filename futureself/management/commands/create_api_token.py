from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from futureself.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user. The token is printed alone on the last line, once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        token, raw = ApiToken.objects.issue(user=user, name=name)
        self.stderr.write(f"Created token {token.prefix}… for {username}. It is shown once:")
        self.stdout.write(raw)
