"""The spoken-digit check on speech made by eSpeak NG (no apt, no files): the
right digits pass in several voices and speeds over a room noise floor; wrong,
swapped, missing or extra digits, silence, noise and other words do not."""

from __future__ import annotations

import numpy as np
import pytest

from cameos.liveness import speech
from cameos.liveness.speech import SAMPLE_RATE, verify_digits
from tests.cameos.speech_clips import add_noise_floor, room_noise, speak, speak_digits, speech_rms

SAID = "48213"


@pytest.fixture(scope="module")
def said_audio() -> np.ndarray:
    return speak_digits(SAID, voice="en-us", rate="normal", noise_db=40.0, seed=1)


def _rejected_on_the_digits(result) -> None:
    """Rejected, and by the speech itself (it got past the energy gate)."""
    assert result.verified is False, result
    assert result.details["reason"] not in ("ok", "no_speech", "too_little_speech"), result.details


@pytest.mark.parametrize("voice", ["en-us", "en-us+f3"])
@pytest.mark.parametrize("rate", ["slow", "fast"])
def test_right_digits_are_accepted(voice, rate):
    audio = speak_digits(SAID, voice=voice, rate=rate, noise_db=40.0, seed=2)
    result = verify_digits(audio, SAMPLE_RATE, SAID)
    assert result.verified is True, result
    assert result.score >= speech.MIN_WORD_MARGIN
    words = result.details["words"]
    assert [w["digit"] for w in words] == list(SAID)
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and words[0]["start_s"] >= 0.3  # the clip has 0.4 s of room first


@pytest.mark.parametrize(("digits", "voice", "rate", "noise_db"), [
    ("731480", "en+m3", "slow", 30.0),
    ("731480", "en-us+f3", "fast", 30.0),
    ("2659", "en-us", "fast", 20.0),
])
def test_right_digits_are_accepted_in_more_voices_and_noise(digits, voice, rate, noise_db):
    audio = speak_digits(digits, voice=voice, rate=rate, noise_db=noise_db, seed=3)
    result = verify_digits(audio, SAMPLE_RATE, digits)
    assert result.verified is True, result


def test_a_capture_with_room_around_the_speech_and_another_sample_rate_is_accepted():
    # a second of room before the digits, as in a capture where the head turns first; 48 kHz
    audio = speak_digits(SAID, voice="en-us+f3", rate="normal", noise_db=35.0, sample_rate=48000, lead_s=1.0, tail_s=0.6)
    result = verify_digits(audio, 48000, SAID)
    assert result.verified is True, result
    assert result.details["words"][0]["start_s"] >= 0.9


@pytest.mark.parametrize(("expected", "what"), [
    ("48713", "one digit changed"),
    ("48219", "the last digit changed"),
    ("84213", "two digits swapped"),
    ("48231", "the last two swapped"),
    ("482135", "one digit fewer said than expected"),
    ("448213", "a digit missing at the start"),
    ("4823", "one digit more said than expected"),
])
def test_wrong_digits_are_rejected(said_audio, expected, what):
    _rejected_on_the_digits(verify_digits(said_audio, SAMPLE_RATE, expected))


def test_the_same_audio_passes_its_own_digits(said_audio):
    # the control for the rejections above: the audio itself is fine
    assert verify_digits(said_audio, SAMPLE_RATE, SAID).verified is True


def test_fewer_digits_said_is_rejected_in_another_voice():
    audio = speak_digits("9052", voice="en-us+f3", rate="fast", noise_db=30.0)
    _rejected_on_the_digits(verify_digits(audio, SAMPLE_RATE, "90512"))


def test_silence_is_rejected():
    result = verify_digits(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE, SAID)
    assert result.verified is False
    assert result.details["reason"] == "no_speech"
    assert result.score == speech.MARGIN_FLOOR


def test_steady_noise_is_rejected():
    noise = room_noise(3 * SAMPLE_RATE, np.random.default_rng(4)) * 0.1
    result = verify_digits(noise, SAMPLE_RATE, SAID)
    assert result.verified is False
    assert result.details["reason"] == "no_speech"


def test_noise_bursts_shaped_like_speech_are_rejected():
    # noise switched on and off like five words: it passes the energy gate, not the speech model
    rng = np.random.default_rng(5)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    gate = ((t > 0.5) & (t < 2.5) & (np.sin(2 * np.pi * 2.5 * t) > 0)).astype(np.float32)
    bursts = room_noise(len(t), rng) * 0.2 * gate + room_noise(len(t), rng) * 0.002
    result = verify_digits(bursts.astype(np.float32), SAMPLE_RATE, SAID)
    _rejected_on_the_digits(result)


def test_other_words_are_rejected():
    sentence = speak("please let me in, it is really me", voice="en-us", rate="normal") * 0.5
    pad = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    audio = add_noise_floor(np.concatenate([pad, sentence, pad]), 35.0, SAMPLE_RATE, seed=6)
    _rejected_on_the_digits(verify_digits(audio, SAMPLE_RATE, SAID))


def test_too_little_speech_for_the_digits_is_rejected():
    # one short word against six expected digits
    audio = speak_digits("8", voice="en-us", rate="fast", noise_db=40.0)
    result = verify_digits(audio, SAMPLE_RATE, "812345")
    assert result.verified is False
    assert result.details["reason"] in ("too_little_speech", "not_aligned", "digit_mismatch", "extra_speech")


def test_heard_is_the_free_hypothesis_as_digits(said_audio):
    result = verify_digits(said_audio, SAMPLE_RATE, "12345")
    assert result.heard is not None and result.heard.isdigit()
    assert result.heard != "12345"


def test_expected_must_be_digits(said_audio):
    with pytest.raises(ValueError):
        verify_digits(said_audio, SAMPLE_RATE, "48a13")
    with pytest.raises(ValueError):
        verify_digits(said_audio, SAMPLE_RATE, "")


def test_the_model_loads_once_per_process():
    assert speech._get_decoder() is speech._get_decoder()


def test_speak_digits_lays_the_noise_floor_asked_for():
    clean = speak_digits("123", voice="en-us", rate="fast", noise_db=None)
    noisy = speak_digits("123", voice="en-us", rate="fast", noise_db=30.0, seed=9)
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    assert np.all(clean[: int(0.4 * SAMPLE_RATE)] == 0)  # the room before the speech
    noise = noisy - clean
    snr = 20 * np.log10(speech_rms(clean, SAMPLE_RATE) / np.sqrt(np.mean(noise**2)))
    assert 28.0 < snr < 32.0
    assert 0.45 < np.max(np.abs(clean)) <= 0.5  # peaks near -6 dBFS
