"""The ASGI entry point's tuning of daphne's WebSocket layer."""


def test_autobahn_builds_its_per_frame_debug_log_arguments_cheaply():
    from autobahn import util
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    import futureself.asgi  # noqa: F401  (applies the tuning on import)

    assert util._HAS_CLICK is False
    name = protocol.hltype(protocol.WebSocketProtocol.sendData)
    assert name == "<WebSocketProtocol.sendData>"  # still names the method, without colours or inspect
    assert twisted_websocket.hltype is protocol.hltype
