"""The liveness check on synthetic captures made here: a face photo turned and
lip-synced by ``tests/cameos/capture.py``, digits spoken by eSpeak NG, encoded
as MP4 (H.264 + AAC) and WebM (VP8 + Opus). Real dlib models, real decoding."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image

from cameos.liveness import faces, lips, pose, report
from cameos.liveness.recording import (
    CORRUPT,
    MAX_DURATION_S,
    TOO_LONG,
    RecordingError,
    decode_recording,
    probe_recording,
)
from cameos.liveness.verify import face_count_in_video, track_faces, verify_recording
from tests.cameos.capture import head_rig, make_capture
from tests.cameos.speech_clips import speak_digits

DIGITS_A = "48213"  # said by the US male voice
DIGITS_B = "5907"  # said by the US female voice, faster

# what each capture is made of: (digits, voice, rate, moves, container, variant)
_RECIPES = {
    "live_lr_mp4": (DIGITS_A, "en-us", "normal", ["left", "right"], "mp4", "live"),
    "live_rl_webm": (DIGITS_B, "en-us+f3", "fast", ["right", "left"], "webm", "live"),
    "still_mp4": (DIGITS_A, "en-us", "normal", ["left", "right"], "mp4", "still"),
    "two_faces_mp4": (DIGITS_A, "en-us", "normal", ["left", "right"], "mp4", "two_faces"),
    "no_face_webm": (DIGITS_A, "en-us", "normal", ["left", "right"], "webm", "no_face"),
    "swap_mp4": (DIGITS_A, "en-us", "normal", ["left", "right"], "mp4", "swap_person"),
}


class Captures:
    """Captures made on first use and kept for the module; reports likewise."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self._paths: dict[str, str] = {}
        self._reports: dict[tuple, report.LivenessReport] = {}

    def path(self, name: str) -> str:
        if name not in self._paths:
            digits, voice, rate, moves, container, variant = _RECIPES[name]
            # the speech starts a second in, while the head turns, as a person would
            audio = speak_digits(digits, voice=voice, rate=rate, noise_db=35.0, lead_s=1.0, tail_s=0.6)
            path = str(self.folder / f"{name}.{container}")
            make_capture(path, moves=moves, audio=audio, sample_rate=16000, container=container, variant=variant)
            self._paths[name] = path
        return self._paths[name]

    def report(self, name: str, digits: str | None = None, moves: list[str] | None = None) -> report.LivenessReport:
        recipe = _RECIPES[name]
        digits = recipe[0] if digits is None else digits
        moves = recipe[3] if moves is None else moves
        key = (name, digits, tuple(moves))
        if key not in self._reports:
            self._reports[key] = verify_recording(self.path(name), digits, moves)
        return self._reports[key]


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> Captures:
    return Captures(tmp_path_factory.mktemp("captures"))


def _assert_likeness(rep: report.LivenessReport) -> None:
    assert rep.embedding is not None and len(rep.embedding) == 128
    assert 3 <= len(rep.reference_jpegs) <= 5
    for jpeg in rep.reference_jpegs:
        img = Image.open(io.BytesIO(jpeg))
        assert img.format == "JPEG" and min(img.size) >= 64
        # every reference frame shows the person
        assert len(faces.detect_faces(np.asarray(img.convert("RGB")), upsample=1)) == 1
    assert rep.voice_wav is not None
    with wave.open(io.BytesIO(rep.voice_wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert 0.8 < w.getnframes() / 16000 < 6.0


# ---------------------------------------------------------------- the whole check


def test_happy_path_mp4_left_then_right(captures):
    rep = captures.report("live_lr_mp4")
    assert rep.ok, rep.details()
    assert rep.failures == []
    assert rep.digits_verified
    assert [m.direction for m in rep.moves_seen] == ["left", "right"]
    assert all(abs(m.peak_yaw) >= pose.TURN_THRESHOLD_DEG for m in rep.moves_seen)
    assert rep.faces_min == rep.faces_max == 1
    assert rep.lip_speech_correlation is not None and rep.lip_speech_correlation >= lips.MIN_LIP_CORRELATION
    assert rep.identity_spread is not None and rep.identity_spread < faces.SAME_PERSON_DISTANCE
    assert 5.0 < rep.duration_s < 9.0 and rep.frames_analysed >= 50
    assert len(rep.yaw_track) == rep.frames_analysed
    _assert_likeness(rep)


def test_happy_path_webm_right_then_left(captures):
    rep = captures.report("live_rl_webm")
    assert rep.ok, rep.details()
    assert [m.direction for m in rep.moves_seen] == ["right", "left"]
    _assert_likeness(rep)


def test_the_same_person_gives_the_same_embedding(captures):
    a = np.array(captures.report("live_lr_mp4").embedding)
    b = np.array(captures.report("live_rl_webm").embedding)
    assert faces.distance(a, b) < 0.35


def test_moves_in_the_wrong_order_fail(captures):
    rep = captures.report("live_lr_mp4", moves=["right", "left"])
    assert not rep.ok
    assert rep.failures == [report.MOVES]
    assert [m.direction for m in rep.moves_seen] == ["left", "right"]
    assert rep.details()["moves_seen"] == ["left", "right"]


def test_a_still_photo_with_the_right_speech_fails_on_lips_and_moves(captures):
    rep = captures.report("still_mp4")
    assert not rep.ok
    assert report.LIPS in rep.failures and report.MOVES in rep.failures
    assert report.DIGITS not in rep.failures  # the sound itself is right
    assert report.FACE_COUNT not in rep.failures
    assert rep.moves_seen == []
    assert rep.lip_speech_correlation is not None and abs(rep.lip_speech_correlation) < 0.2


def test_two_faces_fail(captures):
    rep = captures.report("two_faces_mp4")
    assert not rep.ok
    assert report.FACE_COUNT in rep.failures
    assert rep.faces_max == 2
    assert rep.embedding is None and rep.reference_jpegs == []


def test_no_face_fails(captures):
    rep = captures.report("no_face_webm")
    assert not rep.ok
    assert report.FACE_COUNT in rep.failures
    assert rep.faces_max == 0 and rep.frames_without_face == rep.frames_analysed
    assert report.MOVES in rep.failures
    # lips and identity were not judged without a face: not reported ("the face changed" would contradict it)
    assert report.LIPS not in rep.failures and report.IDENTITY not in rep.failures
    assert rep.embedding is None and rep.reference_jpegs == []
    assert rep.details()["faces_max"] == 0


def test_a_cut_to_another_person_fails_on_identity(captures):
    rep = captures.report("swap_mp4")
    assert not rep.ok
    assert report.IDENTITY in rep.failures
    assert rep.faces_max == 1  # one face at a time: only the identity check sees the cut
    assert rep.identity_spread > faces.SAME_PERSON_DISTANCE
    assert rep.embedding is None


def test_wrong_digits_fail_on_digits(captures):
    rep = captures.report("live_lr_mp4", digits="70965")
    assert not rep.ok
    assert report.DIGITS in rep.failures
    assert not rep.digits_verified


# ---------------------------------------------------------------- head turns


def test_left_is_the_persons_own_left(captures):
    """In the unmirrored frame the nose goes towards the image's right edge on a "left"."""
    rec = decode_recording(captures.path("live_lr_mp4"))
    track = track_faces(rec.frames)
    yaws = np.array([np.nan if y is None else y for y in track.yaws])
    peak = int(np.nanargmax(yaws))  # the turn towards positive yaw
    frontal = int(np.nanargmin(np.abs(yaws - track.baseline_yaw)))

    def nose_offset(i: int) -> float:
        pts = track.frames[i].points
        return float(pts[30, 0] - (pts[36, 0] + pts[45, 0]) / 2)

    assert nose_offset(peak) > nose_offset(frontal) + 5  # the nose went towards the image's right
    first = pose.moves_from_yaw(track.yaws, rec.fps, times=rec.times.tolist())[0]
    assert first.direction == "left" and first.peak_yaw > 0
    assert first.start_s <= rec.times[peak] <= first.end_s


def test_a_photo_swung_on_its_axis_is_no_head_turn():
    """A printed face turned like a door foreshortens, but its nose stays between its eyes."""
    flat = head_rig("astronaut_flat")
    solid = head_rig("astronaut")

    def yaw(rig, deg):
        frame = rig.render(deg, 0.0)
        box = faces.detect_faces(frame, threshold=-0.6)[0]
        return pose.head_pose(faces.landmarks(frame, box), (frame.shape[1], frame.shape[0])).yaw

    base = yaw(flat, 0)
    for deg in (35, -35):
        assert abs(yaw(flat, deg) - base) < 10
        assert abs(yaw(solid, deg) - base) > pose.TURN_THRESHOLD_DEG


def test_moves_from_a_yaw_track():
    fps = 10.0
    flat = [2.0] * 10
    left = [8.0, 18.0, 26.0, 28.0, 27.0, 15.0]
    right = [-5.0, -16.0, -24.0, -26.0, None, -25.0, -12.0]
    track = flat + left + flat + right + flat
    moves = pose.moves_from_yaw(track, fps)
    assert [m.direction for m in moves] == ["left", "right"]
    assert moves[0].peak_yaw == pytest.approx(26.0)  # 28 from the baseline of 2
    assert moves[1].peak_yaw == pytest.approx(-28.0)
    assert moves[0].end_s < moves[1].start_s
    # a turn that does not pass the threshold is no move, nor is one noisy frame
    assert pose.moves_from_yaw(flat + [12.0, 19.0, 15.0] + flat + [30.0] + flat, fps) == []
    # turning back and forth on the same side counts once
    wobble = flat + [25.0, 26.0, 11.0, 24.0, 25.0] + flat
    assert [m.direction for m in pose.moves_from_yaw(wobble, fps)] == ["left"]


# ---------------------------------------------------------------- lips


def test_lips_follow_the_speech_only_when_alive():
    t = np.arange(60) / 10.0
    sr = 16000
    x = np.zeros(int(6.2 * sr), dtype=np.float32)
    env = np.zeros(60)
    for k in range(5):
        a = int((1.0 + 0.6 * k) * sr)
        x[a : a + int(0.3 * sr)] = 0.3 * np.sin(np.arange(int(0.3 * sr)) * 0.1)
        env[10 + 6 * k : 13 + 6 * k] = 1.0
    speaking = [0.2 + 0.2 * e for e in env]
    assert lips.lip_speech_correlation(speaking, t, x, sr) > 0.8
    still = [0.2 + 0.002 * np.sin(i) for i in range(60)]  # landmark jitter on a photo
    assert lips.lip_speech_correlation(still, t, x, sr) == 0.0
    out_of_step = [0.2 + 0.2 * e for e in np.roll(env, 3)]
    assert lips.lip_speech_correlation(out_of_step, t, x, sr) < lips.MIN_LIP_CORRELATION
    assert lips.lip_speech_correlation([None] * 60, t, x, sr) is None


# ---------------------------------------------------------------- decoding and limits


def test_decoding_samples_frames_and_sound(captures):
    rec = decode_recording(captures.path("live_rl_webm"))
    assert max(rec.frames[0].shape[:2]) <= 480 and rec.frames[0].dtype == np.uint8
    assert rec.source_size == (640, 480)
    assert 8.0 <= rec.fps <= 10.5
    assert rec.sample_rate == 16000 and rec.audio.dtype == np.float32 and rec.audio.ndim == 1
    assert abs(len(rec.audio) / 16000 - rec.duration_s) < 0.3
    assert np.abs(rec.audio).max() > 0.1


def test_too_long_is_refused_from_the_header(tmp_path):
    path = str(tmp_path / "long.mp4")
    make_capture(path, moves=[], audio=None, variant="still", seconds=MAX_DURATION_S + 2, fps=5, size=(160, 120))
    with pytest.raises(RecordingError) as err:
        probe_recording(path)
    assert err.value.code == TOO_LONG
    with pytest.raises(RecordingError) as err:
        verify_recording(path, DIGITS_A, ["left", "right"])
    assert err.value.code == TOO_LONG


def test_too_long_without_a_duration_in_the_header_stops_while_decoding(tmp_path):
    """Browsers' MediaRecorder WebM says nothing of its length up front."""
    path = str(tmp_path / "long.webm")
    make_capture(
        path, moves=[], audio=None, variant="still", seconds=MAX_DURATION_S + 3, fps=5, size=(160, 120),
        container="webm", header_duration=False,
    )
    assert probe_recording(path).duration_s is None
    with pytest.raises(RecordingError) as err:
        decode_recording(path, require_audio=False)
    assert err.value.code == TOO_LONG

    short = str(tmp_path / "short.webm")
    make_capture(
        short, moves=[], audio=np.zeros(16000 * 3, np.float32), variant="still", seconds=3.0, fps=5,
        size=(160, 120), container="webm", header_duration=False,
    )
    rec = decode_recording(short)
    assert abs(rec.duration_s - 3.0) < 0.3 and len(rec.frames) == 15


@pytest.mark.parametrize("damage", ["garbage", "truncated_header", "empty", "text"])
def test_a_corrupt_file_is_a_recording_error(captures, tmp_path, damage):
    good = open(captures.path("live_lr_mp4"), "rb").read()
    data = {
        "garbage": np.random.default_rng(1).bytes(200_000),
        "truncated_header": good[:1500],
        "empty": b"",
        "text": b"<html>not a video</html>\n" * 100,
    }[damage]
    path = tmp_path / f"{damage}.mp4"
    path.write_bytes(data)
    with pytest.raises(RecordingError) as err:
        verify_recording(str(path), DIGITS_A, ["left", "right"])
    assert err.value.code == CORRUPT
    assert err.value.message


def test_too_short_and_silent_recordings_fail_in_the_report(tmp_path):
    short = str(tmp_path / "short.webm")
    make_capture(short, moves=[], audio=np.zeros(16000, np.float32), variant="still", seconds=1.0, container="webm")
    rep = verify_recording(short, DIGITS_A, ["left", "right"])
    assert not rep.ok and rep.failures == [report.DURATION]
    assert 0.8 <= rep.details()["duration_s"] <= 1.2, rep.details()  # how long it was, not 0

    silent = str(tmp_path / "silent.mp4")
    make_capture(silent, moves=[], audio=None, variant="still", seconds=3.0, size=(320, 240))
    rep = verify_recording(silent, DIGITS_A, ["left", "right"])
    assert not rep.ok and rep.failures == [report.NO_AUDIO]

    # short and silent: both said (a one-frame file was reported as silent alone, 0 s long)
    both = str(tmp_path / "both.mp4")
    make_capture(both, moves=[], audio=None, variant="still", seconds=1.0, size=(320, 240))
    rep = verify_recording(both, DIGITS_A, ["left", "right"])
    assert not rep.ok and rep.failures == [report.DURATION, report.NO_AUDIO]
    assert 0.8 <= rep.details()["duration_s"] <= 1.2, rep.details()


def test_a_recording_error_keeps_what_it_found_through_a_process_pool():
    import pickle

    from cameos.liveness.recording import NO_AUDIO, TOO_SHORT

    err = pickle.loads(pickle.dumps(RecordingError(TOO_SHORT, "short", 0.5, also=(NO_AUDIO,))))
    assert (err.code, err.message, err.duration_s, err.also) == (TOO_SHORT, "short", 0.5, (NO_AUDIO,))


# ---------------------------------------------------------------- characters without a face


def test_face_count_in_video(captures):
    assert face_count_in_video(captures.path("no_face_webm")) == 0
    assert face_count_in_video(captures.path("live_lr_mp4")) == 1
    assert face_count_in_video(captures.path("two_faces_mp4")) == 2


def test_models_load_once():
    assert faces.models() is faces.models()
    assert faces.models_dir().endswith("models")


def test_a_small_recording_is_enlarged_for_the_detector(tmp_path):
    """At 224x168 the face is ~55 px, under the smallest the detector finds (~70 px) at the
    frame's own size."""
    path = str(tmp_path / "small.mp4")
    make_capture(path, moves=[], audio=np.zeros(16000 * 3, np.float32), variant="still", seconds=3.0, size=(224, 168))
    rec = decode_recording(path)
    assert rec.frames[0].shape[:2] == (336, 448) and rec.source_size == (224, 168)
    track = track_faces(rec.frames[:5])
    assert track.faces_min == track.faces_max == 1
