"""Server time and database queries of every API endpoint, with small and large data.

    python bench/api.py              # 5 rounds per size; prints the table, exits 1 on a missed bound
    python bench/api.py --rounds 10

Each round builds a fresh person who owns an interview in progress, a completed
interview with its profile, future selves and a conversation: "small" (4
answers, 2 selves, 4 messages) or "large" (60 answers, 6 selves, 200 messages,
plus 5 more interviews for the export). Requests go through Django's test
client with a bearer token, so middleware, auth, ninja and serialisation are
all measured. Providers are the offline ones; the time they report
(``ProviderCall.latency_ms``) is subtracted, so "server ms" is our own code.

Targets: median server time under the endpoint's bound, queries under its bound,
and no N+1: the large data may cost at most 2 more queries than the small.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, setup_django

SIZES = {
    "small": {"answers": 4, "selves": 2, "messages": 4, "extra_interviews": 0},
    "large": {"answers": 60, "selves": 6, "messages": 200, "extra_interviews": 5},
}
N_PLUS_ONE_SLACK = 2
# (label, method, path template, body template, server-ms bound, query bound)
ENDPOINTS = [
    ("status", "GET", "/api/status", None, 20, 0),
    ("interview detail", "GET", "/api/interview/{done}", None, 50, 6),
    ("profile detail", "GET", "/api/profile/{profile}", None, 30, 4),
    ("future self", "GET", "/api/future-self/{self}", None, 30, 5),
    ("profile selves", "GET", "/api/profile/{profile}/future-selves", None, 50, 5),
    ("conversation", "GET", "/api/conversation/{conversation}", None, 80, 6),
    ("interview respond", "POST", "/api/interview/respond", {"interview_id": "{open}", "message": "I see."}, 150, 24),
    ("profile patch", "PATCH", "/api/profile/{profile}", {"data": {"occupation": "nurse"}}, 100, 10),
    ("select", "POST", "/api/future-self/select", {"future_self_id": "{self}"}, 80, 10),
    ("correct", "POST", "/api/future-self/{self}/correct", {"correction": "I would never leave Lea."}, 150, 10),
    ("avatar", "POST", "/api/avatar/generate", {"future_self_id": "{self}"}, 150, 8),
    ("generate", "POST", "/api/future-self/generate", {"profile_id": "{profile}"}, 250, 10),
    ("profile build", "POST", "/api/profile/build", {"interview_id": "{done}"}, 250, 14),
    ("interview complete", "POST", "/api/interview/complete", {"interview_id": "{open}"}, 250, 18),
    ("summarize", "POST", "/api/conversation/summarize", {"conversation_id": "{conversation}"}, 150, 18),
    ("export", "GET", "/api/me/export", None, 150, 15),
    ("delete me", "DELETE", "/api/me", None, 250, 35),
]


def build_world(size: dict[str, int], index: int) -> dict[str, str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from futureself.models import ApiToken
    from tests.builders import make_conversation, make_future_self, make_interview, make_profile

    user = get_user_model().objects.create_user(f"bench-{index}", "", "a long password 123")
    answers = [f"Answer number {n}: I work nights and think about Montreal a lot." for n in range(size["answers"])]
    done = make_interview(owner=user, answers=answers, status="completed")
    profile = make_profile(interview=done)
    selves = [make_future_self(profile=profile, path=p) for p in ("Move to Montreal", "Stay in Lyon")]
    selves += [make_future_self(profile=profile, path=f"Path {n}") for n in range(size["selves"] - 2)]
    messages = [
        ("user" if n % 2 == 0 else "future_self", f"Message {n} about the years.") for n in range(size["messages"])
    ]
    conversation = make_conversation(future_self=selves[0], messages=messages)
    # The interview in progress stays under the answer limit, so it can still be answered.
    open_interview = make_interview(owner=user, answers=answers[: min(len(answers), settings.INTERVIEW_MAX_TURNS - 4)])
    for _ in range(size["extra_interviews"]):
        make_profile(interview=make_interview(owner=user, answers=answers[:6], status="completed"))
    return {
        "token": ApiToken.objects.issue(user=user, name="bench")[1],
        "done": str(done.pk),
        "open": str(open_interview.pk),
        "profile": str(profile.pk),
        "self": str(selves[0].pk),
        "conversation": str(conversation.pk),
    }


def fill(template, world: dict[str, str]):
    if isinstance(template, str):
        return template.format(**world)
    if isinstance(template, dict):
        return {key: fill(value, world) for key, value in template.items()}
    return template


def measure(rounds: int) -> dict[tuple[str, str], dict[str, list[float]]]:
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from futureself.models import ProviderCall
    from futureself.providers import registry

    results: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    client = Client()
    world_index = 0
    for round_index in range(rounds + 1):  # round 0 warms up imports and caches
        for size_name, size in SIZES.items():
            world_index += 1
            registry.reset()
            world = build_world(size, world_index)
            # A person and an address of their own each: the per-person and per-IP rate limits are
            # still checked (their cost is measured) but never refuse a round.
            auth = {
                "HTTP_AUTHORIZATION": f"Bearer {world['token']}",
                "REMOTE_ADDR": f"10.0.{world_index // 250}.{world_index % 250 + 1}",
            }
            for label, method, path, body, _, _ in ENDPOINTS:
                url = fill(path, world)
                data = fill(body, world)
                since = timezone.now()
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    if method == "GET":
                        response = client.get(url, **auth)
                    else:
                        payload = "" if data is None else json.dumps(data)
                        response = client.generic(method, url, data=payload, content_type="application/json", **auth)
                    elapsed = (time.perf_counter() - started) * 1000
                if response.status_code >= 400:
                    raise SystemExit(
                        f"{label} ({size_name}) answered {response.status_code}: {response.content[:300]!r}"
                    )
                provider_ms = (
                    ProviderCall.objects.filter(created_at__gte=since).aggregate(t=Sum("latency_ms"))["t"] or 0
                )
                if round_index:
                    row = results[(label, size_name)]
                    row["server_ms"].append(max(0.0, elapsed - provider_ms))
                    row["provider_ms"].append(provider_ms)
                    row["queries"].append(len(queries.captured_queries))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    results = measure(args.rounds)

    print(f"API server time and queries, {args.rounds} rounds · {machine()}\n")
    header = (
        f"{'endpoint':<20} {'ms small':>8} {'ms large':>8} {'bound':>5} {'provider':>8} "
        f"{'q small':>7} {'q large':>7} {'bound':>5}  result"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for label, _method, _, _, ms_bound, query_bound in ENDPOINTS:
        small, large = results[(label, "small")], results[(label, "large")]
        ms_small, ms_large = statistics.median(small["server_ms"]), statistics.median(large["server_ms"])
        q_small, q_large = max(small["queries"]), max(large["queries"])
        provider = statistics.median(small["provider_ms"] + large["provider_ms"])
        problems = []
        if max(ms_small, ms_large) > ms_bound:
            problems.append("slow")
        if max(q_small, q_large) > query_bound:
            problems.append("queries")
        if q_large - q_small > N_PLUS_ONE_SLACK:
            problems.append("N+1")
        if problems:
            missed.append(label)
        print(
            f"{label:<20} {ms_small:>8.1f} {ms_large:>8.1f} {ms_bound:>5} {provider:>8.0f} "
            f"{q_small:>7} {q_large:>7} {query_bound:>5}  {', '.join(problems) or 'OK'}"
        )
    print(f"\n{len(ENDPOINTS) - len(missed)}/{len(ENDPOINTS)} endpoints within their bounds")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
