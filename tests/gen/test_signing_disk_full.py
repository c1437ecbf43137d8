"""Signing on a full disk: the signed copy is written by Python (the C2PA
library signs into memory), so a refused write is an OSError with the
disk's errno, which the worker hands back as it does a full media store
(``gen.worker.DISK_REFUSED``), and it leaves no file behind. The disk is
made full for a child process by its file-size limit, set between the
encoded file's size and the signed one's: the MP4 is written, its signed
copy is refused (EFBIG)."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap

import numpy as np

from gen.encode import encode_mp4
from gen.worker import DISK_REFUSED

CHILD = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from gen.provenance import keys, manifest
    from gen.provenance.manifest import Claims

    src, dest, folder, limit = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    chain = keys.ensure_dev_chain(folder)  # made before the limit: a key file is not what is tested
    claims = Claims(video_id="video_full", model="tiny", creator_handle="ada")
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        manifest.sign_file(src, dest, "video/mp4", claims, chain)
    except OSError as exc:
        print("oserror", exc.errno)
    else:
        print("signed", dest.stat().st_size)
    """
)


def _sign_in_child(tmp_path, limit: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "clip.mp4"), str(tmp_path / "signed.mp4"), str(tmp_path / "provenance"), str(limit)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_full_disk_refuses_the_signed_copy_with_a_disk_errno_and_leaves_nothing(tmp_path):
    frames = np.random.default_rng(3).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, 8, tmp_path / "clip.mp4")
    size = (tmp_path / "clip.mp4").stat().st_size

    # room enough: signed (the manifest makes it larger than the clip)
    kind, value = _sign_in_child(tmp_path, limit=1 << 30)
    assert kind == "signed" and int(value) > size + 512
    (tmp_path / "signed.mp4").unlink()

    # the disk takes the clip but not its signed copy
    kind, value = _sign_in_child(tmp_path, limit=size + 256)
    assert (kind, int(value)) == ("oserror", errno.EFBIG)
    assert int(value) in DISK_REFUSED  # what the worker hands back as MediaUnavailable, uncounted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "provenance"]  # no half file, no temp file
