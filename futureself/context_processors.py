from django.http import HttpRequest

from futureself.providers.registry import provider_status


def futureself(request: HttpRequest) -> dict:
    return {"providers": provider_status()}
