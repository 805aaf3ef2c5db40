"""Prompt size per turn over a long conversation: it must plateau, not grow with the conversation.

    python bench/cost_growth.py            # 60 turns, prints the curve and the plateau check
    python bench/cost_growth.py --turns 120

Drives the real ``ConversationEngine`` exactly as the WebSocket consumer does
(save the person's message, stream the reply, then fold old turns into the
rolling summary) with a chat provider that records every request and answers
with the offline engine. Tokens are estimated as characters / 4. Exits 1 when
the prompt of the last third of the conversation is more than 10% larger than
that of the middle third, or when any summary call grows without bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, setup_django

QUESTIONS = [
    "What did a normal Tuesday look like for you in the first year?",
    "Was Tom happy there, honestly, or did he just go along with it?",
    "How often did you actually see Lea, and what did you two do when you did?",
    "What surprised you most about leading a ward instead of working on one?",
    "Did you ever think about coming back? What stopped you, or what made you stay?",
    "What do you wish I knew now, before I decide anything at all?",
    "Tell me about the hardest night shift you had in those ten years.",
    "What did you give up that you still miss, even a little?",
]
TOLERANCE = 1.10


def chars(request) -> int:
    return sum(len(message.content) for message in request.messages)


def run(turns: int) -> tuple[list[int], list[int]]:
    from asgiref.sync import async_to_sync

    from conversations.engine import ConversationEngine
    from tests.builders import make_conversation, make_future_self, make_profile
    from tests.fakes.providers import FakeChat

    chat = FakeChat(fallback_offline=True)
    engine = ConversationEngine(chat=chat)
    conversation = make_conversation(future_self=make_future_self(profile=make_profile()))

    async def one_turn(index: int) -> None:
        question = QUESTIONS[index % len(QUESTIONS)]
        await engine.add_user_message(conversation.pk, f"{question} (turn {index + 1})")
        reply = await engine.start_reply(conversation.pk)
        async for _event in reply.events():
            pass
        await engine.fold_memory(conversation.pk)

    prompts, summaries = [], []
    for index in range(turns):
        before = len(chat.calls)
        async_to_sync(one_turn)(index)
        for request in chat.calls[before:]:
            if request.task == "conversation":
                prompts.append(chars(request))
            elif request.task == "summary":
                summaries.append(chars(request))
    return prompts, summaries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    args = parser.parse_args()
    setup_django()
    prompts, summaries = run(args.turns)

    print(f"cost growth over {args.turns} turns · {machine()}\n")
    print(f"{'turn':>5} {'prompt chars':>13} {'≈ tokens':>9}")
    for turn in [1, *range(5, args.turns + 1, 5)]:
        size = prompts[turn - 1]
        print(f"{turn:>5} {size:>13} {size // 4:>9}")
    third = args.turns // 3
    middle = statistics.mean(prompts[third : 2 * third])
    last = statistics.mean(prompts[2 * third :])
    ratio = last / middle
    low, high = min(summaries, default=0), max(summaries, default=0)
    print(f"\nsummary calls: {len(summaries)}, input chars min/max {low}/{high}")
    print(f"mean prompt, turns {third + 1}-{2 * third}: {middle:.0f} chars;", end=" ")
    print(f"turns {2 * third + 1}-{args.turns}: {last:.0f} chars")
    ok = ratio <= TOLERANCE
    print(f"plateau: last third / middle third = {ratio:.2f} (target <= {TOLERANCE:.2f}) -> {'OK' if ok else 'MISSED'}")
    if summaries and len(summaries) >= 4:
        half = len(summaries) // 2
        summary_ok = max(summaries[half:]) <= TOLERANCE * max(summaries[:half]) + 2_000
        print(f"summary input bounded: {'OK' if summary_ok else 'MISSED'}")
        ok = ok and summary_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
