"""MP4 and thumbnail writing: every frame comes back, files land atomically."""

from __future__ import annotations

from pathlib import Path

import av
import msgspec
import numpy as np
import pytest
from PIL import Image

from gen.encode import EncodedVideo, encode_mp4, write_thumbnail


def clip(n: int = 9, height: int = 64, width: int = 64) -> np.ndarray:
    """Frames whose brightness climbs frame by frame over a smooth gradient."""
    y = np.linspace(0, 60, height)[:, None]
    x = np.linspace(0, 60, width)[None, :]
    base = (y + x)[None, :, :, None]
    level = np.linspace(20, 140, n)[:, None, None, None]
    frames = np.broadcast_to(base + level, (n, height, width, 3)).copy()
    frames[..., 1] *= 0.8
    return np.clip(frames, 0, 255).astype(np.uint8)


def decode(path: str) -> tuple[list[np.ndarray], dict]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        info = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "rate": stream.average_rate,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
        }
    return frames, info


def only_file(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("n", [9, 1, 2, 33])
def test_mp4_round_trip_keeps_every_frame(tmp_path, n):
    frames = clip(n)
    out = encode_mp4(frames, 8, tmp_path / "v.mp4")
    decoded, info = decode(out.path)
    assert len(decoded) == n
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "rate": 8, "width": 64, "height": 64}
    assert out.frames == n and out.width == 64 and out.height == 64 and out.fps == 8
    # In order and close to the input (lossy, but not by much on smooth frames).
    for got, want in zip(decoded, frames):
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 4


def test_encoded_video_reports_the_file(tmp_path):
    path = tmp_path / "clips" / "v.mp4"  # parent is created
    out = encode_mp4(clip(), 8, path)
    assert isinstance(out, EncodedVideo)
    assert out.path == str(path)
    assert out.bytes == path.stat().st_size > 0
    assert out.content_type == "video/mp4"
    again = msgspec.json.decode(msgspec.json.encode(out), type=EncodedVideo)
    assert again == out


def test_mp4_is_fast_start(tmp_path):
    out = encode_mp4(clip(), 8, tmp_path / "v.mp4")
    data = Path(out.path).read_bytes()
    assert data[4:8] == b"ftyp"
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    assert 0 < moov < mdat


def test_non_rectangular_and_odd_sizes(tmp_path):
    out = encode_mp4(clip(9, 64, 96), 24, tmp_path / "wide.mp4")
    decoded, info = decode(out.path)
    assert (info["width"], info["height"], info["rate"]) == (96, 64, 24)
    assert len(decoded) == 9

    odd = encode_mp4(clip(9, 63, 65), 8, tmp_path / "odd.mp4")
    decoded, info = decode(odd.path)
    assert (odd.width, odd.height) == (66, 64) == (info["width"], info["height"])
    assert len(decoded) == 9


def test_reencoding_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "v.mp4"
    first = encode_mp4(clip(9), 8, target)
    second = encode_mp4(clip(17), 8, target)
    assert only_file(tmp_path) == ["v.mp4"]
    assert second.bytes != first.bytes
    assert len(decode(str(target))[0]) == 17


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((0, 64, 64, 3), np.uint8),
        np.zeros((9, 64, 64), np.uint8),
        np.zeros((9, 64, 64, 4), np.uint8),
        np.zeros((9, 64, 64, 3), np.float32),
    ],
)
def test_bad_frames_are_rejected_and_an_existing_file_survives(tmp_path, frames):
    target = tmp_path / "v.mp4"
    good = encode_mp4(clip(), 8, target)
    with pytest.raises(ValueError):
        encode_mp4(frames, 8, target)
    assert only_file(tmp_path) == ["v.mp4"]
    assert target.stat().st_size == good.bytes


def test_bad_fps_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        encode_mp4(clip(), 0, tmp_path / "v.mp4")
    assert only_file(tmp_path) == []


def test_thumbnail_is_a_jpeg_scaled_to_max_side(tmp_path):
    frame = clip(1, 360, 640)[0]
    write_thumbnail(frame, tmp_path / "t" / "thumb.jpg")
    with Image.open(tmp_path / "t" / "thumb.jpg") as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        assert im.size == (512, 288)
    assert only_file(tmp_path / "t") == ["thumb.jpg"]


def test_thumbnail_keeps_small_frames_and_honours_max_side(tmp_path):
    frame = clip(1, 64, 96)[0]
    write_thumbnail(frame, tmp_path / "same.jpg")
    write_thumbnail(frame, tmp_path / "small.jpg", max_side=48)
    with Image.open(tmp_path / "same.jpg") as im:
        assert im.size == (96, 64)
        pixels = np.asarray(im).astype(int)
        assert np.abs(pixels - frame.astype(int)).mean() < 4
    with Image.open(tmp_path / "small.jpg") as im:
        assert im.size == (48, 32)


def test_thumbnail_rejects_non_rgb_frames(tmp_path):
    with pytest.raises(ValueError):
        write_thumbnail(np.zeros((64, 64), np.uint8), tmp_path / "t.jpg")
    assert only_file(tmp_path) == []


# --- sound ---------------------------------------------------------------------


def tone(seconds: float, rate: int, freqs=(440.0, 660.0)) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.4 * np.stack([np.sin(2 * np.pi * f * t) for f in freqs])).astype(np.float32)


def probe_audio(path: str) -> dict:
    with av.open(path) as container:
        video, audio = container.streams.video, container.streams.audio
        a = audio[0]
        samples = np.concatenate([f.to_ndarray() for f in container.decode(a)], axis=1)
        return {
            "video_streams": len(video),
            "audio_streams": len(audio),
            "codec": a.codec_context.name,
            "rate": a.sample_rate,
            "channels": a.channels,
            "seconds": float(a.duration * a.time_base),
            "video_seconds": float(video[0].duration * video[0].time_base),
            "samples": samples,
        }


@pytest.mark.parametrize("rate,freqs", [(16000, (440.0, 660.0)), (44100, (440.0, 660.0)), (24000, (300.0,))])
def test_mp4_with_sound_has_one_video_and_one_aac_stream_of_the_right_length(tmp_path, rate, freqs):
    frames = clip(9)
    sound = tone(9 / 8, rate, freqs)
    out = encode_mp4(frames, 8, tmp_path / "v.mp4", audio=sound, sample_rate=rate)
    assert out.audio_channels == len(freqs) and out.sample_rate == rate
    info = probe_audio(out.path)
    assert (info["video_streams"], info["audio_streams"]) == (1, 1)
    assert (info["codec"], info["rate"], info["channels"]) == ("aac", rate, len(freqs))
    assert info["video_seconds"] == pytest.approx(1.125)
    assert info["seconds"] == pytest.approx(1.125, abs=0.01)
    # The tone survives the codec: its frequency is the spectrum's peak on every channel.
    samples = info["samples"]
    for channel, freq in enumerate(freqs):
        spectrum = np.abs(np.fft.rfft(samples[channel]))
        peak = np.argmax(spectrum) * rate / len(samples[channel])
        assert abs(peak - freq) < 5
    # Every frame is still there, and the file still starts fast.
    assert len(decode(out.path)[0]) == 9
    data = Path(out.path).read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")


def test_sound_and_video_packets_are_interleaved(tmp_path):
    out = encode_mp4(clip(33), 8, tmp_path / "v.mp4", audio=tone(33 / 8, 16000), sample_rate=16000)
    with av.open(out.path) as container:
        order = [p.stream.type for p in container.demux() if p.size]
    first_audio = order.index("audio")
    last_video = len(order) - 1 - order[::-1].index("video")
    assert first_audio < last_video  # not all video then all sound


def test_mp4_without_sound_has_no_audio_stream(tmp_path):
    out = encode_mp4(clip(), 8, tmp_path / "v.mp4")
    assert out.audio_channels == 0 and out.sample_rate is None
    with av.open(out.path) as container:
        assert len(container.streams.audio) == 0


@pytest.mark.parametrize(
    "audio,rate,needle",
    [
        (tone(1.125, 16000), None, "sample_rate"),
        (tone(1.125, 16000), 12345, "sample_rate"),
        (tone(3.0, 16000), 16000, "lasts"),
        (np.zeros((3, 18000), np.float32), 16000, "channels"),
        ((tone(1.125, 16000) * 1000).astype(np.int16), 16000, "float"),
        (None, 16000, "without audio"),
    ],
)
def test_bad_sound_is_rejected_and_an_existing_file_survives(tmp_path, audio, rate, needle):
    target = tmp_path / "v.mp4"
    good = encode_mp4(clip(), 8, target)
    with pytest.raises(ValueError, match=needle):
        encode_mp4(clip(), 8, target, audio=audio, sample_rate=rate)
    assert only_file(tmp_path) == ["v.mp4"]
    assert target.stat().st_size == good.bytes


def test_mono_sound_and_out_of_range_samples(tmp_path):
    loud = tone(1.125, 16000, (440.0,)) * 10  # clipped to [-1, 1], not wrapped
    out = encode_mp4(clip(), 8, tmp_path / "v.mp4", audio=loud[0], sample_rate=16000)
    info = probe_audio(out.path)
    assert info["channels"] == 1 and np.abs(info["samples"]).max() < 1.3
