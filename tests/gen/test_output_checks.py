"""Output moderation's checks (``gen.output_checks``) with the real models on
media the tests make.

- Frames: NudeNet runs on a real photograph with a face (scikit-image's
  astronaut) and on a clean clip of the tiny pipeline, and allows both. No
  real nude picture can be had legitimately for a test, so the refusal side is
  tested on recorded detector outputs: detection lists in the shape
  ``core.nudity.detect`` returns, with NudeNet's exposed-part labels.
- Sound: speech synthesised by eSpeak NG (the ``espeakng-loader`` wheel, no
  apt package) goes through PocketSphinx and the text moderation: a harmful
  sentence is refused, a benign one is allowed, and the tiny pipeline's own
  track (noise) passes.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from core.nudity import Detection, detect
from core.transcribe import transcribe
from gen import output_checks
from gen.output_checks import check_clip, check_frames, check_sound, judge_transcript, sample_frames, sample_indices
from policy.images import judge_nudity
from tests.cameos.speech_clips import speak

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HARMFUL_SPEECH = "here is how to make a pipe bomb at home"  # heard here as "do you read how to mix of pipe bomb at home"
BENIGN_SPEECH = "let's go to the beach and have a picnic"


def spoken_track(text: str, *, seconds: float, sample_rate: int = 16000, voice: str = "en-us", rate: str = "slow") -> np.ndarray:
    """``text`` said once, centred in a stereo track of ``seconds`` at ``sample_rate``
    (the shape a pipeline's sound has: float32 (channels, samples))."""
    speech = speak(text, voice=voice, rate=rate, sample_rate=sample_rate) * 0.4
    total = int(seconds * sample_rate)
    assert len(speech) < total, "the sentence is longer than the track"
    track = np.zeros(total, dtype=np.float32)
    at = (total - len(speech)) // 2
    track[at : at + len(speech)] = speech
    return np.stack([track, track])


def head(size: int = 64) -> np.ndarray:
    """The astronaut's head and shoulders, ``size`` pixels square (RGB uint8)."""
    from skimage.transform import resize

    crop = data.astronaut()[0:256, 128:384]
    return (resize(crop, (size, size), anti_aliasing=True) * 255).astype(np.uint8)


# --- sampling -------------------------------------------------------------------


def test_frames_are_sampled_first_every_second_and_last_within_a_cap():
    assert sample_indices(9, 8) == [0, 8]
    assert sample_indices(33, 8) == [0, 8, 16, 24, 32]
    assert sample_indices(1, 8) == [0]
    assert sample_indices(0, 8) == []
    long = sample_indices(24 * 60, 24)  # a minute at 24 fps: capped, spread over the clip
    assert len(long) <= output_checks.MAX_FRAMES and long[0] == 0 and long[-1] == 24 * 60 - 1
    frames = np.zeros((9, 4, 4, 3), dtype=np.uint8)
    sampled = sample_frames(frames, 8)
    sampled[0][:] = 255  # copies: the clip's frames are marked in place later
    assert frames.max() == 0


# --- frames ---------------------------------------------------------------------


def test_a_real_face_without_nudity_is_allowed_by_the_real_detector():
    photo = data.astronaut()
    found = detect(photo)
    assert any(d.label.startswith("FACE_") for d in found), found  # the detector really ran and saw her face
    assert check_frames([photo, head(64)]) is None
    assert check_frames([photo, head(64)], strict=True) is None


def test_recorded_detections_with_exposed_parts_are_refused():
    # detector outputs as ``detect`` returns them (no real positive picture can be had for a test)
    exposed = [
        Detection(label="FACE_FEMALE", score=0.81, box=(120, 40, 60, 66)),
        Detection(label="FEMALE_BREAST_EXPOSED", score=0.62, box=(100, 160, 70, 64)),
    ]
    covered = [Detection(label="FEMALE_BREAST_COVERED", score=0.71, box=(100, 160, 70, 64))]
    faint = [Detection(label="BUTTOCKS_EXPOSED", score=0.36, box=(90, 200, 80, 60))]

    def pairs(found):
        return [(d.label, d.score) for d in found]

    refused = judge_nudity(pairs(exposed))
    assert not refused.allowed and refused.category == "sexual"
    assert judge_nudity(pairs(covered)).allowed  # covered: allowed for adults
    assert not judge_nudity(pairs(covered), strict=True).allowed  # not for an under-18 creator
    assert judge_nudity(pairs(faint)).allowed and not judge_nudity(pairs(faint), strict=True).allowed


# --- sound ----------------------------------------------------------------------


def test_harmful_speech_in_the_sound_track_is_refused():
    track = spoken_track(HARMFUL_SPEECH, seconds=4.0)
    finding, transcript = check_sound(track, 16000)
    assert "bomb" in transcript, transcript
    assert finding is not None and finding.check == "sound" and finding.category == "illegal", (finding, transcript)
    assert finding.details["transcript"] == transcript


def test_a_track_reads_the_same_whatever_was_transcribed_before():
    harmful = spoken_track(HARMFUL_SPEECH, seconds=4.0)
    benign = spoken_track(BENIGN_SPEECH, seconds=4.0)
    first = transcribe(harmful, 16000).text
    assert first
    assert transcribe(harmful, 16000).text == first
    transcribe(benign, 16000)
    assert transcribe(harmful, 16000).text == first


def test_benign_speech_in_the_sound_track_is_allowed():
    track = spoken_track(BENIGN_SPEECH, seconds=4.0, sample_rate=24000)  # resampled on the way in
    finding, transcript = check_sound(track, 24000, strict=True)
    # it was heard (the recogniser's words for "beach" vary with the build: "beach", "eat", "concrete"), and passed
    assert {"beach", "picnic"} & set(transcript.split()) and len(transcript.split()) >= 5, transcript
    assert finding is None


def test_a_silent_or_noisy_track_transcribes_to_nothing_or_passes():
    silent = transcribe(np.zeros((2, 24000), dtype=np.float32), 24000)
    assert silent.text == "" and not silent.decoded
    assert check_sound(np.zeros((2, 24000), dtype=np.float32), 24000) == (None, "")


def test_transcripts_refuse_only_harmful_categories():
    assert judge_transcript("").allowed
    assert judge_transcript("   ").allowed  # the prompt's "empty" never fails a video
    named = judge_transcript("barack obama is here")  # a name is weak evidence in speech
    assert named.allowed
    harmful = judge_transcript("i want to kill myself")
    assert not harmful.allowed and harmful.category == "self_harm"
    # longer than a prompt may be: moderated in windows, not refused as too_long
    chatter = " ".join(["the children play football in the park on a sunny day"] * 40)
    assert len(chatter) > 2000 and judge_transcript(chatter).allowed
    assert judge_transcript(chatter + " and here is how to make a bomb at home").category == "illegal"


# --- a whole clip ---------------------------------------------------------------


def test_a_clean_clip_of_the_tiny_pipeline_passes(tiny):
    clip = tiny.generate_clip("a red fox in snow", width=64, height=64, num_frames=tiny.frame_count(4), steps=2, seed=1)
    report = check_clip(sample_frames(clip.frames, clip.fps), clip.audio, clip.sample_rate, strict=True)
    assert report.refusal is None, report
    assert report.frames_checked == len(sample_indices(len(clip.frames), clip.fps)) >= 2


def test_a_tiny_clip_with_harmful_speech_is_refused_for_its_sound(tiny):
    clip = tiny.generate_clip("a red fox in snow", width=64, height=64, num_frames=tiny.frame_count(4), steps=2, seed=1)
    seconds = clip.audio.shape[1] / clip.sample_rate
    track = spoken_track(HARMFUL_SPEECH, seconds=seconds, sample_rate=clip.sample_rate)
    report = check_clip(sample_frames(clip.frames, clip.fps), track, clip.sample_rate)
    assert report.refusal is not None and report.refusal.check == "sound", report
    assert "bomb" in report.transcript
