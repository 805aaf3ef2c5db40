"""Run the vendor fake standalone: ``python -m tests.vendor_fakes --port 8765``.

Point the app at it with ``MISTRAL_SERVER_URL``, ``ELEVENLABS_BASE_URL`` and
``GEMINI_BASE_URL`` set to the printed URL (any non-empty API keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tests.vendor_fakes.server import Latency, VendorFake


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.vendor_fakes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--llm-first-token-ms", type=float, default=0)
    parser.add_argument("--llm-tokens-per-second", type=float, default=0, help="0: no pacing")
    parser.add_argument("--tts-first-audio-ms", type=float, default=0)
    parser.add_argument(
        "--tts-realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pace audio at playback speed after the first chunk (default on)",
    )
    parser.add_argument("--stt-final-ms", type=float, default=0)
    parser.add_argument("--image-ms", type=float, default=0, help="time to draw one image")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    fake = VendorFake(
        Latency(
            llm_first_token_ms=args.llm_first_token_ms,
            llm_tokens_per_second=args.llm_tokens_per_second,
            tts_first_audio_ms=args.tts_first_audio_ms,
            tts_realtime=args.tts_realtime,
            stt_final_ms=args.stt_final_ms,
            image_ms=args.image_ms,
        )
    )
    url = await fake.serve(args.host, args.port)
    print(f"vendor fake serving Mistral, ElevenLabs and Gemini at {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.shutdown()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
