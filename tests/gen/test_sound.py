"""Every clip has a sound track as long as its video: made jointly by LTX-2,
by a Stable Audio pipeline for models that make no sound, or silence when a
host asks for it; and it ends up as an AAC track in the MP4."""

from __future__ import annotations

import av
import numpy as np
import pytest

from gen.audio import audio_prompt, crossfade_concat, fit_length, samples_for
from gen.encode import encode_mp4
from gen.pipelines.base import Clip, VideoGenerator
from gen.pipelines.options import GenOptions
from gen.pipelines.registry import load_generator, load_sound
from gen.pipelines.sound import SoundGenerator
from tests.gen_fixtures import SIZE, Cancelled

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def separate(tiny_models_root) -> VideoGenerator:
    return load_generator("tiny-ltx", tiny_models_root, device="cpu")


@pytest.fixture(scope="module")
def sound(separate) -> SoundGenerator:
    assert separate.sound is not None
    return separate.sound


def test_joint_model_makes_video_and_sound_in_one_run(tiny):
    steps: list[tuple[int, int]] = []
    clip = tiny.generate_clip("waves on a beach", **SIZE, steps=3, seed=4, on_step=lambda i, n: steps.append((i, n)))
    assert isinstance(clip, Clip)
    assert clip.frames.shape == (9, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 8 and clip.sample_rate == 16000
    assert clip.audio.dtype == np.float32 and clip.audio.shape == (2, 18000)  # 9 frames at 8 fps = 1.125 s
    assert clip.seconds == 1.125 and clip.audio.shape[1] / clip.sample_rate == clip.seconds
    assert np.abs(clip.audio).max() <= 1.0 and clip.audio.std() > 0
    assert steps == [(1, 3), (2, 3), (3, 3)]  # one denoising run for both
    # The frames are exactly what generate() returns for the same request.
    assert np.array_equal(clip.frames, tiny.generate("waves on a beach", **SIZE, steps=3, seed=4))
    again = tiny.generate_clip("waves on a beach", **SIZE, steps=3, seed=4)
    assert np.array_equal(again.audio, clip.audio)


@pytest.mark.parametrize("num_frames", [9, 17, 33])
def test_sound_is_exactly_as_long_as_the_video(tiny, separate, num_frames):
    for gen in (tiny, separate):
        clip = gen.generate_clip("rain on a tin roof", width=64, height=64, num_frames=num_frames, steps=1, seed=1, audio_steps=1)
        assert clip.audio.shape[1] == samples_for(num_frames, gen.fps, clip.sample_rate) == round(num_frames / 8 * 16000)


def test_models_without_sound_get_it_from_stable_audio(separate):
    from diffusers import StableAudioPipeline

    assert separate.applied["sound"].startswith("tiny-audio")
    assert isinstance(separate.sound.pipe, StableAudioPipeline)
    steps: list[tuple[int, int]] = []
    clip = separate.generate_clip("a dog barks in a park", **SIZE, steps=2, seed=9, audio_steps=3, on_step=lambda i, n: steps.append((i, n)))
    assert clip.audio.shape == (2, 18000) and clip.sample_rate == 16000 and clip.audio.std() > 0
    # Progress counts the sound model's steps after the video's: monotonic, one total.
    assert steps == [(i, 5) for i in range(1, 6)]
    assert np.array_equal(clip.frames, separate.generate("a dog barks in a park", **SIZE, steps=2, seed=9))


def test_cancelling_during_the_sound_phase_stops_it(separate):
    seen: list[int] = []

    def on_step(i: int, total: int) -> None:
        seen.append(i)
        if i == 3:
            raise Cancelled("job cancelled")

    with pytest.raises(Cancelled):
        separate.generate_clip("a bell", **SIZE, steps=2, seed=1, audio_steps=4, on_step=on_step)
    assert seen == [1, 2, 3]


def test_silent_option_writes_a_silent_track(tiny_models_root):
    for preset in ("tiny", "tiny-ltx"):
        gen = load_generator(preset, tiny_models_root, device="cpu", options=GenOptions(sound="silent"))
        clip = gen.generate_clip("a quiet library", **SIZE, steps=1, seed=1)
        assert clip.audio.shape == (2, samples_for(9, 8, clip.sample_rate)) and not clip.audio.any()
    assert gen.sound is None and gen.applied["sound"] == "silent track"


def test_sound_generator_makes_long_tracks_in_segments(sound):
    assert sound.sample_rate == 16000 and sound.channels == 2
    assert 4.0 < sound.max_seconds < 4.2  # the tiny model's window
    steps: list[int] = []
    n = 9 * 16000 + 123
    track = sound.generate("a train passes", samples=n, steps=2, seed=3, on_step=steps.append)
    assert track.shape == (2, n) and track.dtype == np.float32
    assert sound.segments(n / 16000) == 3 and steps == list(range(1, 7))  # 3 windows of 2 steps
    assert np.abs(track).max() <= 1.0
    assert np.array_equal(track, sound.generate("a train passes", samples=n, steps=2, seed=3))


def test_load_sound_alone(tiny_models_root):
    gen = load_sound("tiny-audio", tiny_models_root, device="cpu")
    assert gen.name == "tiny-audio" and gen.default_steps == 4
    with pytest.raises(ValueError, match="unknown sound preset"):
        load_sound("nope", tiny_models_root)


def test_clip_encodes_to_an_mp4_with_one_video_and_one_audio_stream(tiny, tmp_path):
    clip = tiny.generate_clip("a lighthouse at night, waves", width=96, height=64, num_frames=17, steps=2, seed=3)
    out = encode_mp4(clip.frames, clip.fps, tmp_path / "v.mp4", audio=clip.audio, sample_rate=clip.sample_rate)
    assert out.audio_channels == 2 and out.sample_rate == 16000
    with av.open(out.path) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.sample_rate == 16000 and audio.channels == 2
        assert float(video.duration * video.time_base) == pytest.approx(17 / 8)
        assert float(audio.duration * audio.time_base) == pytest.approx(17 / 8, abs=0.02)
        assert sum(1 for _ in container.decode(video=0)) == 17


def test_audio_helpers():
    assert samples_for(9, 8, 16000) == 18000 and samples_for(121, 24, 24000) == 121000
    tone = np.ones((2, 100), np.float32)
    cut = fit_length(tone, 60, 1000)
    assert cut.shape == (2, 60) and cut[0, 0] == 1.0 and cut[0, -1] == 0.0  # faded at the cut
    padded = fit_length(tone, 150, 1000)
    assert padded.shape == (2, 150) and not padded[:, 100:].any()
    mono = fit_length(np.full(100, 2.0), 100, 1000)
    assert mono.shape == (1, 100) and mono.max() == 1.0  # clipped to [-1, 1]
    joined = crossfade_concat([np.ones((1, 10), np.float32), np.zeros((1, 10), np.float32)], 4)
    assert joined.shape == (1, 16) and joined[0, 5] == 1.0 and joined[0, -1] == 0.0
    assert "rain on a roof" in audio_prompt("  rain on a roof. ") and audio_prompt("")
