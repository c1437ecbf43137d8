"""What does output moderation cost per clip, next to making the clip?

For each tiny preset and clip length it loads the pipeline and the checks'
models once, then, run by run in the same process (these machines are noisy):

  * makes a clip as the worker does (``VideoGenerator.generate_clip``) and
    encodes it (``gen.encode.encode_mp4`` with its sound, to a temporary file):
    the clip's cost;
  * runs the worker's checks on it (``gen.output_checks``): NudeNet on the
    sampled frames, the sound track transcribed and moderated, and the whole
    ``check_clip``;
  * runs the sound check again with the clip's track replaced by synthesised
    speech (eSpeak NG, a sentence centred in the track): the decoder's cost
    when there is something to hear (the tiny models' own tracks are noise).

It prints the medians in milliseconds and the check/clip ratio (the whole
check over generation + encoding). The likeness check (cameos) is not here:
the worker runs it beside these, on the same frames.

``--speech-set N`` also measures what the sound check catches: N benign and
N harmful prompts of ``policy/data/moderation_prompts.jsonl`` (seeded; every
category but ``real_person``) are spoken by eSpeak NG (three voices in turn,
slowly, at 16 kHz) and transcribed, and each transcript is judged as the
worker judges it (``judge_transcript``), by default and strictly, next to the
typed prompt's own decision and to the transcript judged at the prompts'
thresholds. About four seconds per sentence on two shared cores.

Usage (from the repository root; needs the dev extra for the speech):
    .venv/bin/python bench/output_checks.py [--presets tiny,tiny-wan]
        [--seconds 1,4] [--runs 5] [--steps 4] [--size 64x64] [--models DIR]
        [--speech-set 70] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEECH = "let's go to the beach and have a picnic"


def speech_track(seconds: float, sample_rate: int, channels: int) -> np.ndarray:
    from tests.cameos.speech_clips import speak

    said = speak(SPEECH, voice="en-us", rate="slow", sample_rate=sample_rate) * 0.4
    total = int(round(seconds * sample_rate))
    track = np.zeros(total, dtype=np.float32)
    said = said[:total]
    at = (total - len(said)) // 2
    track[at : at + len(said)] = said
    return np.repeat(track[None, :], channels, axis=0)


def speech_set(n: int) -> None:
    """What the sound check catches of spoken prompts (see the module docstring)."""
    import json
    import random

    from core.transcribe import transcribe
    from gen.output_checks import HARMFUL, judge_transcript
    from policy.prompt import assess_prompt
    from tests.cameos.speech_clips import speak

    rows = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "policy/data/moderation_prompts.jsonl").open()]
    rng = random.Random(5)
    benign = [r for r in rows if r["label"] == "benign"]
    harmful = [r for r in rows if r["label"] not in ("benign", "real_person")]
    chosen = rng.sample(benign, n) + rng.sample(harmful, n)
    counts = {(kind, how): 0 for kind in ("benign", "harmful") for how in ("typed", "heard", "heard strict", "prompt thresholds")}
    seconds = []
    for i, row in enumerate(chosen):
        kind = "benign" if row["label"] == "benign" else "harmful"
        voice = ("en-us", "en-us+f3", "en+m3")[i % 3]
        said = speak(row["text"], voice=voice, rate="slow", sample_rate=16000) * 0.4
        pad = np.zeros(8000, dtype=np.float32)
        started = time.perf_counter()
        heard = transcribe(np.concatenate([pad, said, pad]), 16000).text
        seconds.append(time.perf_counter() - started)
        typed = assess_prompt(row["text"]).decision
        counts[(kind, "typed")] += not typed.allowed and typed.category in HARMFUL
        counts[(kind, "heard")] += not judge_transcript(heard).allowed
        counts[(kind, "heard strict")] += not judge_transcript(heard, strict=True).allowed
        raw = assess_prompt(heard).decision if heard.strip() else None
        counts[(kind, "prompt thresholds")] += raw is not None and not raw.allowed and raw.category in HARMFUL
    print(f"\nspoken prompts: {n} benign, {n} harmful; refused:")
    print(f"{'':20} {'benign':>8} {'harmful':>8}")
    for how in ("typed", "heard", "heard strict", "prompt thresholds"):
        print(f"{how:20} {counts[('benign', how)]:>8} {counts[('harmful', how)]:>8}")
    print(f"transcription: median {statistics.median(seconds) * 1000:.0f} ms per sentence")


def ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="tiny,tiny-wan")
    ap.add_argument("--seconds", default="1,4", help="clip lengths (the preset's frames for each)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--models", type=Path, default=None, help="models root (default: a temporary folder)")
    ap.add_argument("--speech-set", type=int, default=0, help="also judge N benign and N harmful spoken prompts")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the tests' worker runs on one)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    torch.set_num_threads(args.threads)
    from gen import output_checks
    from gen.encode import encode_mp4
    from gen.pipelines.registry import load_generator

    width, height = (int(v) for v in args.size.split("x"))
    started = time.perf_counter()
    output_checks.warm_up()
    print(f"checks' models loaded in {time.perf_counter() - started:.2f} s (NudeNet, PocketSphinx en-US, the prompt classifier)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores seen, torch threads {torch.get_num_threads()}, python {platform.python_version()}")
    print(f"size {args.size}, {args.steps} steps, {args.runs} runs each; medians in ms\n")

    header = (
        f"{'preset':10} {'s':>2} {'frames':>6} {'sampled':>7} {'generate':>9} {'encode':>7} {'nudity':>7}"
        f" {'sound':>7} {'speech':>7} {'check':>7} {'check/clip':>10} {'w/ speech':>9}"
    )
    print(header)
    print("-" * len(header))
    misheard: list[str] = []
    heard_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-oc-") as tmp:
        root = args.models or Path(tmp) / "models"
        for preset in args.presets.split(","):
            gen = load_generator(preset, root, device="cpu")
            for seconds in (int(s) for s in args.seconds.split(",")):
                frames_n = gen.frame_count(seconds)
                t: dict[str, list[float]] = {k: [] for k in ("gen", "enc", "nudity", "sound", "speech", "check")}
                sampled = 0
                heard_as: set[str] = set()
                gen.generate_clip("a red fox in snow", width=width, height=height, num_frames=frames_n, steps=args.steps, seed=0)
                for run in range(args.runs):
                    a = time.perf_counter()
                    clip = gen.generate_clip(
                        "a red fox in snow", width=width, height=height, num_frames=frames_n, steps=args.steps, seed=run
                    )
                    b = time.perf_counter()
                    encode_mp4(clip.frames, clip.fps, Path(tmp) / "clip.mp4", audio=clip.audio, sample_rate=clip.sample_rate)
                    c = time.perf_counter()
                    sample = output_checks.sample_frames(clip.frames, clip.fps)
                    sampled = len(sample)
                    d = time.perf_counter()
                    assert output_checks.check_frames(sample) is None
                    e = time.perf_counter()
                    output_checks.check_sound(clip.audio, clip.sample_rate)
                    f = time.perf_counter()
                    report = output_checks.check_clip(sample, clip.audio, clip.sample_rate)
                    g = time.perf_counter()
                    talk = speech_track(clip.audio.shape[1] / clip.sample_rate, clip.sample_rate, clip.audio.shape[0])
                    h = time.perf_counter()
                    found, heard = output_checks.check_sound(talk, clip.sample_rate)
                    heard_as.add(heard)
                    i = time.perf_counter()
                    assert report.refusal is None, report  # the tiny models' clips are noise
                    line = f"{preset} {seconds} s: {heard!r} refused as {found.category if found else ''}"
                    if found is not None and line not in misheard:  # a benign sentence misheard into a refusal
                        misheard.append(line)
                    t["gen"].append(b - a)
                    t["enc"].append(c - b)
                    t["nudity"].append(e - d)
                    t["sound"].append(f - e)
                    t["check"].append((g - f) + (d - c))
                    t["speech"].append(i - h)
                clip_s = statistics.median(t["gen"]) + statistics.median(t["enc"])
                ratio = statistics.median(t["check"]) / clip_s
                spoken = (statistics.median(t["nudity"]) + statistics.median(t["speech"])) / clip_s
                print(
                    f"{preset:10} {seconds:>2} {frames_n:>6} {sampled:>7} {ms(t['gen']):>9} {ms(t['enc']):>7} {ms(t['nudity']):>7}"
                    f" {ms(t['sound']):>7} {ms(t['speech']):>7} {ms(t['check']):>7} {ratio:>10.2f} {spoken:>9.2f}"
                )
                heard_lines.append(f"{preset} {seconds} s at {clip.sample_rate} Hz: {sorted(heard_as)}")
            del gen
    print(
        "\nnudity: NudeNet on the sampled frames; sound: the clip's own track transcribed and moderated;"
        "\nspeech: the same with a spoken sentence as the track; check: sampling + check_clip (nudity, then sound);"
        "\ncheck/clip: check over generate + encode; w/ speech: (nudity + speech) over the same."
    )
    print(f"\nthe spoken sentence ({SPEECH!r}) was heard as:")
    for line in heard_lines:
        print("  " + line)
    for line in misheard:
        print("  refused: " + line)
    if args.speech_set:
        speech_set(args.speech_set)


if __name__ == "__main__":
    main()
