"""Measure the crisis check on the labelled utterance sets and print recall / false-positive tables.

    python bench/safety_eval.py                # phrase check only (no network)
    python bench/safety_eval.py --moderation   # phrase check + Mistral moderation (needs MISTRAL_API_KEY)
    python bench/safety_eval.py --misses       # also list what was missed / wrongly flagged

The sets live in tests/futureself/safety/. "development" and "holdout" were
used while writing the rules; "fresh" was used for one later round of fixes;
"final" was written after the last change and never used to change a rule, so
it is the honest estimate for new phrasings (see docs/safety.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT / "tests" / "futureself" / "safety"
PAIRS = {
    "development": ("risky.txt", "benign.txt"),
    "holdout": ("holdout_risky.txt", "holdout_benign.txt"),
    "fresh": ("fresh_risky.txt", "fresh_benign.txt"),
    "final (never tuned on)": ("final_risky.txt", "final_benign.txt"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moderation", action="store_true", help="also ask Mistral moderation (network, needs a key)")
    parser.add_argument("--misses", action="store_true", help="list missed risky and flagged benign utterances")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "futureself.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from asgiref.sync import async_to_sync

    from futureself.safety.checker import check_text
    from futureself.safety.evaluation import evaluate, load_utterances
    from futureself.safety.moderation import assess, moderation_configured

    if args.moderation and not moderation_configured():
        print("--moderation needs MISTRAL_API_KEY (and SAFETY_MODERATION_ENABLED on)", file=sys.stderr)
        return 2
    check = async_to_sync(assess) if args.moderation else check_text
    detector = "phrases + moderation" if args.moderation else "phrases"

    print(f"crisis check ({detector}), measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"{'set':<24} {'risky n':>7} {'recall':>7} {'benign n':>8} {'FPR':>6} {'µs/msg':>7}")
    all_risky, all_benign = [], []
    for name, (risky_file, benign_file) in PAIRS.items():
        risky, benign = load_utterances(SETS / risky_file), load_utterances(SETS / benign_file)
        all_risky += risky
        all_benign += benign
        result = evaluate(risky, benign, check=check)
        r, f = result.recall["all"], result.false_positives["all"]
        print(f"{name:<24} {r.total:>7} {r.rate:>7.3f} {f.total:>8} {f.rate:>6.3f} {result.mean_microseconds:>7.0f}")
        if args.misses:
            for item in r.misses:
                print(f"    missed   [{item.language}] {item.text}")
            for item in f.misses:
                print(f"    flagged  [{item.language}] {item.text}")
    total = evaluate(all_risky, all_benign, check=check)
    r, f = total.recall["all"], total.false_positives["all"]
    print(f"{'all sets':<24} {r.total:>7} {r.rate:>7.3f} {f.total:>8} {f.rate:>6.3f} {total.mean_microseconds:>7.0f}")
    print("\nby language (all sets):")
    print(total.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
