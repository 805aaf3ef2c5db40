"""Serve futureself with daphne on the configured event loop (uvloop unless told otherwise).

    python -m futureself.serve -b 127.0.0.1 -p 8001 futureself.asgi:application

Takes daphne's own arguments. ``daphne`` itself would create its loop before the app could pick
one (see ``futureself.eventloop``); this sets the loop first and then hands over to daphne.
"""

from __future__ import annotations

import sys

from futureself import eventloop


def main(argv: list[str] | None = None) -> None:
    loop = eventloop.install()
    from daphne.cli import CommandLineInterface

    print(f"futureself: serving on the {loop} event loop", file=sys.stderr, flush=True)
    cli = CommandLineInterface()
    cli.parser.prog = "python -m futureself.serve"
    cli.run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
