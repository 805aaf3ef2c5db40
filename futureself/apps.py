from django.apps import AppConfig


class FutureselfConfig(AppConfig):
    name = "futureself"
    verbose_name = "futureself: accounts and providers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from futureself import signals  # noqa: F401
