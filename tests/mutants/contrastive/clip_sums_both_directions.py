# MISTAKE: clip_loss adds the two directions instead of averaging them.
"""Known-wrong submission (see the first line): InfoNCE and the symmetric CLIP loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.size(0) < 1 or a.size(1) != b.size(1):
        raise ValueError(f"{names} must have shapes (N, D) and (M, D) with N >= 1, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    _check(queries, keys, "queries and keys")
    if keys.size(0) < queries.size(0):
        raise ValueError(f"every query needs its positive key: {queries.size(0)} queries, {keys.size(0)} keys")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    # Cosine similarities: normalise every ROW (one embedding each), then all dot products at once.
    q = F.normalize(queries, dim=1)
    k = F.normalize(keys, dim=1)
    logits = q @ k.T / temperature  # (N, M); row i's positive is column i
    targets = torch.arange(queries.size(0), device=queries.device)
    # cross_entropy works through log_softmax (logsumexp), so logits of 1 / 1e-3 = 1000 stay finite.
    return F.cross_entropy(logits, targets)


def clip_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor,
              logit_scale: torch.Tensor | float) -> torch.Tensor:
    _check(image_embeds, text_embeds, "image_embeds and text_embeds")
    if image_embeds.size(0) != text_embeds.size(0):
        raise ValueError(f"clip_loss needs as many texts as images, got {image_embeds.size(0)} and "
                         f"{text_embeds.size(0)}")
    if not isinstance(logit_scale, torch.Tensor):
        logit_scale = torch.tensor(float(logit_scale), dtype=image_embeds.dtype, device=image_embeds.device)
    image = F.normalize(image_embeds, dim=1)
    text = F.normalize(text_embeds, dim=1)
    # logit_scale is the LOG of the inverse temperature (CLIP learns it): exp keeps the scale positive.
    logits_per_image = logit_scale.exp() * image @ text.T  # (N, N): image i against every text
    targets = torch.arange(image_embeds.size(0), device=image_embeds.device)
    image_to_text = F.cross_entropy(logits_per_image, targets)
    text_to_image = F.cross_entropy(logits_per_image.T, targets)  # text j against every image
    return image_to_text + text_to_image
