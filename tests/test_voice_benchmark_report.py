"""The voice benchmark's verdict on the peer: ahead of Pipecat means our overhead p95 at most half of
its voice server's at every size both measured (the run itself needs daphne, the fakes and Pipecat's
virtualenv, so it is judged in docs/performance.md; the arithmetic of the verdict is checked here)."""

import argparse

import pytest

from bench._voice_common import REPLY, BargeInResult, Latency, TurnResult, critical_path_ms
from bench.voice_latency import FAR_AHEAD, HELD_BACK_MS, Phase, report, report_barge_in


def phase(
    conversations: int, overheads: list[float], *, errors: int = 0, cycle_s: float = 8.7, cpu: float = 0.1
) -> Phase:
    critical = critical_path_ms(REPLY, Latency())
    turns = [TurnResult(first_audio_ms=critical + o, reply_text=REPLY, cycle_s=cycle_s) for o in overheads]
    turns += [TurnResult(error="TimeoutError")] * errors
    return Phase(
        str(conversations),
        turns=turns,
        conversations=conversations,
        server_cpu=cpu,
        wall_s=20.0,
        spoken_turns=len(overheads) * 2,
    )


def verdict(
    ours_ms: float, pipecat_ms: float, *, pipecat_errors: int = 0, open_mic: dict[int, Phase] | None = None
) -> list[str]:
    phases = {"single": phase(1, [ours_ms] * 10), "sequential": phase(1, [380.0] * 5), "n10": phase(10, [ours_ms] * 20)}
    peer_phases = {
        1: phase(1, [pipecat_ms] * 10, cycle_s=11.0),
        10: phase(10, [pipecat_ms] * 20, errors=pipecat_errors, cycle_s=11.0, cpu=0.3),
    }
    peer = {
        "version": "1.14.0",
        "note": "",
        "sizes": [{"sessions": 1, "overhead_p50_ms": 6.0, "overhead_p95_ms": 8.0, "process_cpu": 0.01}],
    }
    args = argparse.Namespace(no_peer=False, event_loop=None, stagger=None)
    return report(phases, peer, peer_phases, Latency(), args, open_mic_phases=open_mic)


def test_far_ahead_of_the_peer_is_no_miss(capsys):
    assert verdict(10.0, 10.0 * FAR_AHEAD) == []
    assert "Pipecat 1.14.0 voice server p50" in capsys.readouterr().out


@pytest.mark.parametrize("pipecat_ms", [10.0, 15.0, 19.9])
def test_ahead_but_not_far_ahead_is_a_miss(pipecat_ms):
    missed = verdict(10.0, pipecat_ms)

    assert len(missed) == 2  # at 1 and at 10 sessions
    assert all(f"not {FAR_AHEAD}x ahead of Pipecat" in m for m in missed)


def test_the_peer_s_errors_are_shown(capsys):
    verdict(10.0, 100.0, pipecat_errors=3)

    assert "Pipecat errors at 10: TimeoutError" in capsys.readouterr().out


def test_each_server_s_turn_and_cpu_per_turn_are_shown_side_by_side(capsys):
    verdict(10.0, 100.0)

    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 10 ") and "8.70" in line]
    # 20 s of the phase at 10% / 30% of a core over 40 answered turns: 50 / 150 ms of CPU a turn.
    assert [cell.strip() for cell in rows[0].strip("|").split("|")] == ["10", "8.70", "11.00", "50.0", "150.0"]


def test_barge_in_not_asked_for_is_no_miss(capsys):
    assert report_barge_in([]) == []
    assert "not measured" in capsys.readouterr().out


def test_a_slow_or_late_barge_in_is_a_miss():
    quick = [BargeInResult(by="interrupt", stop_ms=5.0), BargeInResult(by="voice", stop_ms=6.0)]

    assert report_barge_in(quick) == []
    assert report_barge_in([*quick, BargeInResult(by="voice", stop_ms=150.0)] * 3)
    assert report_barge_in([*quick, BargeInResult(by="voice", stop_ms=5.0, late_frames=1)])


def test_pipecat_with_an_open_microphone_is_shown_apart_from_the_verdict(capsys):
    # Two turns the smart-turn model let through (~250 ms over the fakes), one it held back for 3 s.
    open_mic = {1: phase(1, [240.0, 260.0, 2950.0], cycle_s=11.0)}

    assert verdict(10.0, 10.0 * FAR_AHEAD, open_mic=open_mic) == []

    out = capsys.readouterr().out.split("default turn detection", 1)[1]
    row = next(line for line in out.splitlines() if line.startswith("| 1 "))
    sessions, turns, _p50, _p95, held_back, errors, _cpu = (cell.strip() for cell in row.strip("|").split("|"))
    assert (sessions, turns, held_back, errors) == ("1", "3", "1", "0")
    assert 260.0 < HELD_BACK_MS < 2950.0


def test_pipecat_with_an_open_microphone_overloaded_shows_no_latency(capsys):
    # Timed-out turns leave their replies in flight, to be taken for the next turns' audio.
    open_mic = {50: phase(50, [-700.0, 240.0], errors=2, cycle_s=11.0)}

    verdict(10.0, 10.0 * FAR_AHEAD, open_mic=open_mic)

    out = capsys.readouterr().out.split("default turn detection", 1)[1]
    row = next(line for line in out.splitlines() if line.startswith("| 50 "))
    sessions, turns, p50, p95, held_back, errors, _cpu = (cell.strip() for cell in row.strip("|").split("|"))
    assert (sessions, turns, p50, p95, held_back, errors) == ("50", "4", "overloaded", "-", "-", "2")
