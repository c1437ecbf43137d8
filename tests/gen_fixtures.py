"""What the generation tests (pipelines, sound, previews) share: the folder
where the tiny models are built once per session, one torch thread while a
module runs, the ``tiny`` preset loaded once per module, the usual small
request and the exception a step callback raises to stop a run.

``tests/conftest.py`` makes the fixtures visible to every module; a module
that runs models asks for one torch thread with
``pytestmark = pytest.mark.usefixtures("one_torch_thread")``. torch is
imported only when a fixture runs, so other tests never load it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# 9 frames of 64x64: one 8k + 1 clip of the tiny presets, quick on a CPU.
SIZE = dict(width=64, height=64, num_frames=9)


class Cancelled(Exception):
    """Raised from a step callback to stop a run (as the worker does for a cancelled job)."""


@pytest.fixture(scope="module")
def one_torch_thread():
    # Tiny models gain nothing from a second thread, and on a CPU shared with
    # other busy processes OpenMP threads spinning against each other make
    # them many times slower. Restored for the modules that follow.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory) -> Path:
    # Shared by the generation test modules: each tiny model is built once per session.
    root = tmp_path_factory.getbasetemp() / "gen-models"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="module")
def tiny(tiny_models_root):
    """The ``tiny`` preset (LTX-2 at toy size: video and sound from one model) on the CPU."""
    from gen.pipelines.registry import load_generator

    return load_generator("tiny", tiny_models_root, device="cpu")
