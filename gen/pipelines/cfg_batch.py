"""Classifier-free guidance as one transformer pass of batch two.

LTX-Video and LTX-2 pipelines already stack the unconditional and the
conditional inputs into one batch. Wan's pipelines call the transformer
twice per step, first with the prompt's embeddings, then with the negative
prompt's, on the same latents and timestep. :class:`CfgBatcher` wraps the
transformer's forward: while armed with the negative embeddings (by
``VideoGenerator`` for the length of one call), the first of the two calls
runs both as one batch and returns the conditional half, and the second
returns the stored unconditional half without running anything. Unarmed
(a plain ``pipe(...)`` call, no negative known) it passes every call
through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# Pipelines whose __call__ already batches the two guidance passes.
BATCHED_BY_PIPELINE = frozenset(
    {"LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline", "LTX2Pipeline", "LTX2ImageToVideoPipeline"}
)
# Pipelines that call the transformer twice per step (conditional, then unconditional).
TWO_PASS = frozenset({"WanPipeline", "WanImageToVideoPipeline"})


class CfgBatcher:
    """The transformer forward wrapper (see the module docstring)."""

    def __init__(self, transformer: Any) -> None:
        self.inner = transformer.forward
        self.negative: torch.Tensor | None = None
        self.batched_steps = 0
        self._stash: tuple[tuple[Any, ...], torch.Tensor] | None = None

    def __call__(self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor, **kwargs: Any) -> Any:
        import torch

        negative = self.negative
        if negative is None or hidden_states.shape[0] != 1:
            return self.inner(hidden_states=hidden_states, timestep=timestep, encoder_hidden_states=encoder_hidden_states, **kwargs)
        # The same latents and timestep objects go to both calls of a step (inference
        # tensors have no version counter, so identity and storage are the key).
        key = (id(hidden_states), hidden_states.data_ptr(), id(timestep), timestep.data_ptr())
        if _same(encoder_hidden_states, negative):
            stash, self._stash = self._stash, None
            if stash is not None and stash[0] == key:
                return _output(stash[1], kwargs)
            return self.inner(hidden_states=hidden_states, timestep=timestep, encoder_hidden_states=encoder_hidden_states, **kwargs)
        if encoder_hidden_states.shape != negative.shape:
            return self.inner(hidden_states=hidden_states, timestep=timestep, encoder_hidden_states=encoder_hidden_states, **kwargs)
        two = dict(kwargs)
        for name, value in kwargs.items():  # per-sample conditioning (Wan I2V's image embeddings)
            if isinstance(value, torch.Tensor) and value.ndim and value.shape[0] == 1:
                two[name] = torch.cat([value, value])
        two["return_dict"] = False
        out = self.inner(
            hidden_states=torch.cat([hidden_states, hidden_states]),
            timestep=torch.cat([timestep, timestep]) if timestep.ndim else timestep,
            encoder_hidden_states=torch.cat([encoder_hidden_states, negative.to(encoder_hidden_states.dtype)]),
            **two,
        )[0]
        cond, uncond = out.chunk(2)
        self._stash = (key, uncond)
        self.batched_steps += 1
        return _output(cond, kwargs)

    def disarm(self) -> None:
        """Back to passing every call through (the end of a generator's call, finished or cancelled)."""
        self.negative, self._stash = None, None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same tensor (no value comparison: that would wait for the GPU on every call).

    A copy the pipeline made would not match: its call then runs as a batch
    of its own, slower but with the same result.
    """
    return a is b or (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.dtype == b.dtype)


def _output(sample: torch.Tensor, kwargs: dict[str, Any]) -> Any:
    if kwargs.get("return_dict", True):
        from diffusers.models.modeling_outputs import Transformer2DModelOutput

        return Transformer2DModelOutput(sample=sample)
    return (sample,)


def enable_cfg_batch(pipe: Any, options: Any) -> str:
    """Install the batcher where the pipeline runs two passes; returns what happened (for the options report)."""
    name = type(pipe).__name__
    if name in BATCHED_BY_PIPELINE:
        return f"already batched by {name} (conditional and unconditional in one transformer pass)"
    if name not in TWO_PASS:
        return f"not applied: {name}'s guidance passes are not known to this option"
    if not options.prompt_cache:
        return "not applied: needs the prompt cache (prompt_cache > 0) to know the negative embeddings"
    transformer = pipe.transformer
    if getattr(transformer, "_fabula_cfg_batcher", None) is None:
        batcher = CfgBatcher(transformer)
        transformer.forward = batcher
        transformer._fabula_cfg_batcher = batcher
    return "on (the two guidance passes of a step run as one batch of two)"


def cfg_batcher(pipe: Any) -> CfgBatcher | None:
    """The batcher installed on ``pipe``'s transformer, if any."""
    return getattr(getattr(pipe, "transformer", None), "_fabula_cfg_batcher", None)
