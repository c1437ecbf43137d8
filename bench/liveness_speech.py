"""How well does the spoken-digit check tell the right digits from wrong ones?

For many random 4-6 digit sequences (seeded), each spoken by eSpeak NG in
several voices and speeds, clean and with a room noise floor at 40/30/20 dB
SNR, the bench runs ``cameos.liveness.speech.verify_digits`` against:

- the right digits (should be accepted);
- one digit changed, two neighbours swapped, one digit left out of what was
  said (the speaker said fewer digits than expected) and one digit too many
  (the speaker said more) (each should be rejected);

and, once per sequence, silence, room noise alone and a spoken sentence without
digits. In the same run it scores two transcription baselines on the same
audio: the free digit loop's hypothesis (what ``heard`` reports) and a grammar
of exactly N digits, each accepting when its transcript equals the expected
digits. It prints accept/reject rates per condition and the time per check.

    .venv/bin/python bench/liveness_speech.py [--sequences 8] [--seed 7]

Needs the dev extra (espeakng-loader) for the test speech.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cameos.liveness import speech  # noqa: E402
from tests.cameos.speech_clips import VOICES, add_noise_floor, room_noise, speak, speak_digits  # noqa: E402

RATES = ("slow", "fast")
NOISES: tuple[float | None, ...] = (None, 40.0, 30.0, 20.0)
WRONG = ("changed", "swapped", "said_fewer", "said_more")
SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "please let me in, it is really me",
    "hello there, how are you today",
    "open the door and turn on the light",
)


def noise_name(noise: float | None) -> str:
    return "clean" if noise is None else f"{noise:g} dB"


def wrong_variants(said: str, rng: np.random.Generator) -> dict[str, str]:
    """Expected strings that differ from what was said."""
    out: dict[str, str] = {}
    i = int(rng.integers(len(said)))
    out["changed"] = said[:i] + str((int(said[i]) + int(rng.integers(1, 10))) % 10) + said[i + 1 :]
    pairs = [k for k in range(len(said) - 1) if said[k] != said[k + 1]]
    if pairs:
        k = pairs[int(rng.integers(len(pairs)))]
        out["swapped"] = said[:k] + said[k + 1] + said[k] + said[k + 2 :]
    j = int(rng.integers(len(said) + 1))
    out["said_fewer"] = said[:j] + str(int(rng.integers(10))) + said[j:]  # expected has one more
    j = int(rng.integers(len(said)))
    out["said_more"] = said[:j] + said[j + 1 :]  # expected has one fewer
    return out


def fixed_length_transcript(samples: np.ndarray, n: int) -> str | None:
    """The baseline from the issue: a grammar of exactly ``n`` digit words, free digits."""
    levels = speech._levels(samples)
    if not levels.speech.any():
        return None
    prepared, _ = speech._prepare(samples, levels)
    decoder = speech._get_decoder()
    with decoder.lock:
        pcm = speech.pcm16(prepared)
        decoder.decoder.add_jsgf_string("fixed", speech._jsgf(" ".join([speech._ANY_DIGIT] * n)))
        decoder.prime(pcm)
        hyp, _, _ = decoder.decode("fixed", pcm)
    return speech._as_digits(hyp)


class Tally:
    def __init__(self) -> None:
        self.counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, key: tuple, ok: bool) -> None:
        c = self.counts[key]
        c[0] += int(ok)
        c[1] += 1

    def rate(self, pred) -> tuple[int, int]:
        hit = tot = 0
        for key, (h, t) in self.counts.items():
            if pred(key):
                hit += h
                tot += t
        return hit, tot


def pct(hit: int, tot: int) -> str:
    return "-" if tot == 0 else f"{100.0 * hit / tot:5.1f}% ({hit}/{tot})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=8, help="random digit sequences per voice and speed")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    speech.warm_up()
    verify = Tally()  # key: (kind, voice, rate, noise) -> [correct decisions, checks]
    loop = Tally()  # free digit loop transcript == expected
    fixed = Tally()  # fixed-length grammar transcript == expected
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    times: list[float] = []
    scores: dict[str, list[float]] = defaultdict(list)  # margins of the aligned checks
    # when aligned: (smallest margin, smallest summed margin, unaccounted s, heard == expected)
    aligned: dict[str, list[tuple[float, float, float, bool]]] = defaultdict(list)
    started = time.perf_counter()

    def check(samples: np.ndarray, expected: str, kind: str, key: tuple) -> None:
        t = time.perf_counter()
        r = speech.verify_digits(samples, speech.SAMPLE_RATE, expected)
        times.append(time.perf_counter() - t)
        right = kind == "right"
        verify.add((kind, *key), r.verified == right)
        loop.add((kind, *key), (r.heard == expected) == right)
        reasons[kind][r.details["reason"]] += 1
        if r.details["reason"] in ("ok", "digit_mismatch"):
            scores[kind].append(r.score)
        if "words" in r.details:
            words = r.details["words"]
            aligned[kind].append(
                (r.score, min(w["margin_sum"] for w in words), r.details["unaccounted_speech_s"], r.heard == expected)
            )
        if kind in ("right", *WRONG):
            fixed.add((kind, *key), (fixed_length_transcript(samples, len(expected)) == expected) == right)

    for s in range(args.sequences):
        for voice in VOICES:
            for rate in RATES:
                said = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(4, 7))))
                variants = wrong_variants(said, rng)
                for noise in NOISES:
                    audio = speak_digits(said, voice=voice, rate=rate, noise_db=noise, seed=s)
                    key = (voice, rate, noise)
                    check(audio, said, "right", key)
                    for kind, expected in variants.items():
                        check(audio, expected, kind, key)
        expected = "".join(str(d) for d in rng.integers(0, 10, 5))
        none = (None, None, None)
        check(np.zeros(3 * speech.SAMPLE_RATE, dtype=np.float32), expected, "silence", none)
        noise = room_noise(3 * speech.SAMPLE_RATE, np.random.default_rng(s)) * 0.05
        check(noise, expected, "noise", none)
        sentence = speak(SENTENCES[s % len(SENTENCES)], voice=VOICES[s % len(VOICES)], rate="normal")
        sentence = np.concatenate([np.zeros(6400, np.float32), sentence * 0.5, np.zeros(6400, np.float32)])
        check(add_noise_floor(sentence, 35.0, speech.SAMPLE_RATE, seed=s), expected, "sentence", none)
        print(f"sequence {s + 1}/{args.sequences} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    t = np.array(times) * 1000
    print(f"\n{len(times)} checks, seed {args.seed}, {args.sequences} sequences per voice and speed")
    print(f"time per check: p50 {np.percentile(t, 50):.0f} ms, p99 {np.percentile(t, 99):.0f} ms\n")

    header = f"{'condition':<22} {'verify: right accepted':>26} {'wrong rejected':>22} | {'loop: right':>20} {'wrong rej.':>20} | {'N-digit: right':>20} {'wrong rej.':>20}"
    print(header)
    print("-" * len(header))

    def row(label: str, pred) -> None:
        cells = []
        for tally in (verify, loop, fixed):
            cells.append(pct(*tally.rate(lambda k: k[0] == "right" and pred(k))))
            cells.append(pct(*tally.rate(lambda k: k[0] in WRONG and pred(k))))
        print(f"{label:<22} {cells[0]:>26} {cells[1]:>22} | {cells[2]:>20} {cells[3]:>20} | {cells[4]:>20} {cells[5]:>20}")

    row("all", lambda k: True)
    for noise in NOISES:
        row(noise_name(noise), lambda k, n=noise: k[3] == n)
    for voice in VOICES:
        row(f"voice {voice}", lambda k, v=voice: k[1] == v)
    for rate in RATES:
        row(f"speed {rate}", lambda k, r=rate: k[2] == r)

    print(f"\n{'wrong kind':<22} {'verify rejected':>22} {'loop rejected':>22} {'N-digit rejected':>22}")
    for kind in WRONG:
        print(
            f"{kind:<22} {pct(*verify.rate(lambda k, w=kind: k[0] == w)):>22}"
            f" {pct(*loop.rate(lambda k, w=kind: k[0] == w)):>22} {pct(*fixed.rate(lambda k, w=kind: k[0] == w)):>22}"
        )
    for kind in ("silence", "noise", "sentence"):
        print(f"{kind:<22} {pct(*verify.rate(lambda k, w=kind: k[0] == w)):>22} {pct(*loop.rate(lambda k, w=kind: k[0] == w)):>22}")

    print("\nreasons given:")
    for kind, counts in reasons.items():
        print(f"  {kind:<12} " + ", ".join(f"{r}: {c}" for r, c in sorted(counts.items(), key=lambda x: -x[1])))
    print("\nsmallest per-digit margin where the alignment and the speech check passed (p1/p5/p50/p95):")
    for kind, v in scores.items():
        q = np.percentile(v, [1, 5, 50, 95])
        print(f"  {kind:<12} n={len(v):<4} " + " / ".join(f"{x:.2f}" for x in q))
    # the last tests (margins, unaccounted speech): how other thresholds would have decided
    # the same checks
    n_right = sum(reasons["right"].values())
    n_wrong = sum(sum(reasons[k].values()) for k in WRONG)
    m0, s0, u0 = speech.MIN_WORD_MARGIN, speech.MIN_WORD_MARGIN_SUM, speech.MAX_UNACCOUNTED_FRAMES / 100

    def passes(entry, m, s_, u) -> bool:
        margin, margin_sum, unaccounted, heard = entry
        return heard or (unaccounted <= u and margin >= m and margin_sum >= s_)

    print("\nif the thresholds were (per-frame margin >= M, summed margin >= S, unaccounted speech <= U):")
    grid = [(m, s0, u0) for m in (-1.5, -2.0, -2.5, -3.0, -4.0)]
    grid += [(m0, s_, u0) for s_ in (-40.0, -60.0, -120.0, -1e9)]
    grid += [(m0, s0, u) for u in (0.05, 0.2)]
    for m, s_, u in grid:
        acc = sum(passes(e, m, s_, u) for e in aligned["right"])
        passed = sum(passes(e, m, s_, u) for k in WRONG for e in aligned.get(k, []))
        label = f"M {m:5.1f}, S {'none' if s_ < -1e8 else f'{s_:.0f}':>5}, U {u * 1000:3.0f} ms"
        print(f"  {label}: right accepted {pct(acc, n_right)}, wrong rejected {pct(n_wrong - passed, n_wrong)}")
    print(f"\nin use: M {m0}, S {s0:.0f}, U {u0 * 1000:.0f} ms; or the free loop heard exactly the digits")


if __name__ == "__main__":
    main()
