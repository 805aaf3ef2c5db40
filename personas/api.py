from ninja import Router

router = Router(tags=["personas"])
