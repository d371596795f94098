"""Exercise: build a small convolutional classifier to an exact specification.

Interviewers often hand you an architecture and ask for the module. Build it exactly: the tests compare
your model's ``state_dict`` (names and shapes) with the reference's, give both the same random weights and
then compare every layer's output, so the attribute names, layer shapes and bias settings must match.
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """A CNN classifier for single-channel 28x28 images (MNIST-sized).

    ``__init__(num_classes=10, dropout=0.5)`` creates exactly these attributes (nothing else with
    parameters or buffers):

    - ``self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False)``
    - ``self.bn1 = nn.BatchNorm2d(16)``
    - ``self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False)``
    - ``self.bn2 = nn.BatchNorm2d(32)``
    - ``self.pool = nn.MaxPool2d(kernel_size=2)`` (used after both blocks)
    - ``self.dropout = nn.Dropout(p=dropout)``
    - ``self.fc = nn.Linear(32 * 7 * 7, num_classes)``

    ``forward(x)`` takes a float32 tensor of shape ``(N, 1, 28, 28)`` (any N >= 1) and returns the raw
    logits, shape ``(N, num_classes)`` (no softmax). In this order:

    1. ``conv1 -> bn1 -> ReLU -> pool``   giving ``(N, 16, 14, 14)``
    2. ``conv2 -> bn2 -> ReLU -> pool``   giving ``(N, 32, 7, 7)``
    3. flatten all dimensions but the batch (``torch.flatten(x, 1)``), giving ``(N, 1568)``
    4. ``dropout -> fc``

    ReLU may be ``torch.relu``, ``F.relu`` or an ``nn.ReLU`` attribute (it has no parameters). Dropout
    must be active in training mode and off in eval mode; in eval mode the output is deterministic.
    """

    def __init__(self, num_classes: int = 10, dropout: float = 0.5) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable scalars in ``model``, as an ``int``.

    Count every parameter with ``requires_grad=True`` once (a parameter shared by two layers counts
    once); do not count frozen parameters (``requires_grad=False``) or buffers such as BatchNorm's
    ``running_mean``. For ``SmallCNN(num_classes=10)`` the answer is 20,538.
    """
    raise NotImplementedError
