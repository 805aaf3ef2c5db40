"""Measuring the crisis check on labelled utterances (recall, false positives)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from futureself.safety.checker import SafetyVerdict, check_text


@dataclass(frozen=True, slots=True)
class Utterance:
    language: str
    text: str


def load_utterances(path: Path) -> list[Utterance]:
    """``<language> TAB <text>`` per line; ``#`` comments and blank lines are skipped."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, _, text = line.partition("\t")
        items.append(Utterance(language.strip(), text.strip()))
    return items


@dataclass
class Score:
    total: int = 0
    flagged: int = 0
    misses: list[Utterance] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.flagged / self.total if self.total else 0.0


@dataclass
class Evaluation:
    recall: dict[str, Score]
    false_positives: dict[str, Score]
    mean_microseconds: float

    def table(self) -> str:
        lines = ["set      language  n    flagged  rate"]
        for name, scores in (("risky", self.recall), ("benign", self.false_positives)):
            for language, score in sorted(scores.items()):
                lines.append(f"{name:<8} {language:<9} {score.total:<4} {score.flagged:<8} {score.rate:.3f}")
        lines.append(
            f"recall {self.recall['all'].rate:.3f}, false-positive rate {self.false_positives['all'].rate:.3f}"
        )
        lines.append(f"mean check time {self.mean_microseconds:.0f} µs per message")
        return "\n".join(lines)


def _score(items: Iterable[Utterance], check: Callable[[str], SafetyVerdict], *, expect: bool) -> dict[str, Score]:
    scores: dict[str, Score] = {"all": Score()}
    for item in items:
        flagged = check(item.text).flagged
        for key in ("all", item.language):
            score = scores.setdefault(key, Score())
            score.total += 1
            score.flagged += flagged
        if flagged != expect:
            scores["all"].misses.append(item)
    return scores


def evaluate(risky: list[Utterance], benign: list[Utterance], check=check_text) -> Evaluation:
    started = time.perf_counter()
    recall = _score(risky, check, expect=True)
    false_positives = _score(benign, check, expect=False)
    elapsed = time.perf_counter() - started
    return Evaluation(recall, false_positives, elapsed / max(1, len(risky) + len(benign)) * 1e6)
