"""Weight initialisation by hand, as ``torch.nn.init`` does it: fans, gains, Xavier (Glorot) and Kaiming (He).

A layer's weight starts random, with a spread chosen so that activations (Xavier) or gradients (Kaiming) keep
their variance from layer to layer. Write the fans and the gains with plain Python arithmetic, and fill the
tensors with ``Tensor.uniform_`` / ``Tensor.normal_`` (or ``torch.rand`` / ``torch.randn`` and ``copy_``), not by
calling or importing ``torch.nn.init``'s functions: the grader counts calls into them and looks for them among
your module's names.

The filling functions work like nn.init's: they fill ``tensor`` **in place** under ``torch.no_grad()`` (so an
``nn.Parameter``, a leaf that requires grad, can be filled and stays a leaf), return that same tensor object,
keep its shape and dtype, and take every random number from ``generator`` when one is given (the global RNG,
``torch.manual_seed``'s, is then left alone; with ``generator=None`` they use the global RNG). The grader checks
the draws statistically on large tensors (largest |value|, mean, standard deviation), so any correct way of
drawing passes; it does not need nn.init's exact random stream.
"""

from __future__ import annotations

import torch


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight, as two Python ints.

    A Linear weight has shape ``(out_features, in_features)``: ``fan_in = size(1)``, ``fan_out = size(0)``.
    A convolution weight has shape ``(out_channels, in_channels / groups, *kernel_size)``: both fans are
    multiplied by the receptive field size, the product of ``shape[2:]`` (the kernel's number of elements), so
    ``fan_in = size(1) * receptive_field`` and ``fan_out = size(0) * receptive_field``. The values are not used
    and not changed.

    Raises:
        ValueError: the tensor has fewer than 2 dimensions (0-d or 1-d, a bias for example).
    """
    raise NotImplementedError


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as a float (the values of ``torch.nn.init.calculate_gain``).

    - ``"linear"``, ``"conv1d"``, ``"conv2d"``, ``"conv3d"``, ``"conv_transpose1d"``, ``"conv_transpose2d"``,
      ``"conv_transpose3d"``, ``"sigmoid"``: 1
    - ``"tanh"``: 5 / 3
    - ``"relu"``: sqrt(2)
    - ``"leaky_relu"``: sqrt(2 / (1 + negative_slope ** 2)), where ``negative_slope`` is ``param``, or 0.01 when
      ``param`` is None (``param=0`` is a slope of 0, which gives sqrt(2))
    - ``"selu"``: 3 / 4

    ``param`` is ignored by every nonlinearity but ``"leaky_relu"``.

    Raises:
        ValueError: any other name (``"gelu"``, ``"softmax"``, ...).
    """
    raise NotImplementedError


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Xavier (Glorot) uniform: fill ``tensor`` in place from U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).

    That is a standard deviation of gain * sqrt(2 / (fan_in + fan_out)) (U(-b, b) has std b / sqrt(3)). Fans
    from ``fan_in_and_fan_out`` (ValueError for fewer than 2 dims). Returns ``tensor`` itself.
    """
    raise NotImplementedError


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Xavier (Glorot) normal: fill ``tensor`` in place from N(0, std²), std = gain * sqrt(2 / (fan_in + fan_out)).

    Returns ``tensor`` itself.
    """
    raise NotImplementedError


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Kaiming (He) uniform: fill ``tensor`` in place from U(-b, b), b = sqrt(3) * gain / sqrt(fan).

    - ``gain = calculate_gain(nonlinearity, a)``: ``a`` is the negative slope of the leaky ReLU that follows
      the layer (so the defaults, a=0 with "leaky_relu", give sqrt(2), the ReLU gain); ``nn.Linear`` and
      ``nn.Conv2d`` initialise their weights with ``a=sqrt(5)``, which gives b = 1 / sqrt(fan_in).
    - ``fan`` is ``fan_in`` for ``mode="fan_in"`` (keeps the variance of the activations in the forward pass)
      and ``fan_out`` for ``mode="fan_out"`` (keeps the variance of the gradients in the backward pass).

    Raises:
        ValueError: ``mode`` is neither "fan_in" nor "fan_out", an unknown nonlinearity, or fewer than 2 dims.

    Returns ``tensor`` itself.
    """
    raise NotImplementedError


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Kaiming (He) normal: fill ``tensor`` in place from N(0, std²), std = gain / sqrt(fan).

    ``gain`` and ``fan`` as in ``kaiming_uniform_``; the same ValueErrors. Returns ``tensor`` itself.
    """
    raise NotImplementedError
