# MUTANT: flattens in (row, column, channel) order instead of (channel, row, column)
"""Reference solution: a small CNN for 1x28x28 images, and a trainable-parameter counter."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, dropout: float = 0.5) -> None:
        super().__init__()
        # A convolution followed by BatchNorm needs no bias: BatchNorm subtracts the mean (which would
        # cancel any bias) and adds its own learnt shift, beta.
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        # MaxPool2d has no parameters, so one module can serve both stages.
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.dropout = nn.Dropout(p=dropout)
        # padding=1 keeps 28x28 through each 3x3 convolution; each pool halves it: 28 -> 14 -> 7.
        self.fc = nn.Linear(32 * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))  # (N, 16, 14, 14)
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))  # (N, 32, 7, 7)
        # Keep the batch dimension: flatten everything after it, in (channel, row, column) order.
        x = torch.flatten(x.permute(0, 2, 3, 1), start_dim=1)  # (N, 1568)
        # nn.Dropout is active only in training mode; model.eval() turns it off.
        return self.fc(self.dropout(x))  # raw logits: nn.CrossEntropyLoss applies log-softmax itself


def count_parameters(model: nn.Module) -> int:
    # model.parameters() yields each parameter once (shared ones too) and no buffers, such as BatchNorm's
    # running statistics; frozen parameters (requires_grad=False) are not trainable.
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
