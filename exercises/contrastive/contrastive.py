"""Contrastive losses with in-batch negatives: InfoNCE and the symmetric CLIP loss.

A batch holds N matching pairs (two views of one image, an image and its caption). Pair i's embeddings
should be close and every other pairing of the batch far apart: the other N - 1 items of the batch serve as
the negatives. Both losses are a cross-entropy over similarity logits whose correct class for row i is
column i.

Embeddings are float32 or float64 tensors of shape (N, D) with non-zero rows (the grader uses row norms from
1e-3 to 1e6). Both losses L2-normalise every row INSIDE the loss, as ``F.normalize(x, dim=1)`` does, so only
directions matter: similarities are cosines in [-1, 1]. Results are 0-dim tensors with the embeddings' dtype,
differentiable with autograd in every input, finite for temperatures down to 1e-3 (logits of 1000: compute
the cross-entropy from log-softmax / logsumexp, never from exp of the logits). Nothing here changes its
inputs. ``F.cross_entropy`` and ``F.normalize`` may be used.
"""

from __future__ import annotations

import torch


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) with in-batch negatives, in the form MoCo uses (keys may add negatives).

    Args:
        queries: (N, D), N >= 1.
        keys: (M, D) with M >= N. Query i's positive is ``keys[i]``; all the other M - 1 keys are its
            negatives: the other N - 1 positives of the batch, plus any extra rows ``keys[N:]`` (a bank or
            queue of negatives as in MoCo; M == N is the usual square case).
        temperature: > 0; the logits are divided by it.

    With ``q = normalize(queries)`` and ``k = normalize(keys)`` row-wise::

        logits[i, j] = (q[i] . k[j]) / temperature              shape (N, M)
        loss = mean over i of  -log softmax(logits[i])[i]
             = F.cross_entropy(logits, torch.arange(N))

    The softmax of row i runs over ALL M keys, its positive included, and the result is the mean over the
    N queries (not the sum).

    Returns:
        A 0-dim tensor with the embeddings' dtype.

    Raises:
        ValueError: queries or keys is not 2-D, N == 0, their D differ, M < N (a query without its
            positive), or temperature <= 0.
    """
    raise NotImplementedError


def clip_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor,
              logit_scale: torch.Tensor | float) -> torch.Tensor:
    """The symmetric contrastive loss of CLIP (Radford et al. 2021).

    Args:
        image_embeds: (N, D), N >= 1; image i is paired with text i.
        text_embeds: (N, D): the same N (the square case only).
        logit_scale: the LOG of the inverse temperature, as CLIP stores it (a learnable 0-dim tensor, often
            an ``nn.Parameter`` initialised to log(1 / 0.07), or a Python float). The scale applied to the
            similarities is ``exp(logit_scale)``: logit_scale = log(100) multiplies the cosines by 100. No
            clamping happens here (CLIP clamps the parameter itself, outside the loss).

    With both normalised row-wise::

        logits_per_image = exp(logit_scale) * image @ text.T     (N, N): image i against every text
        logits_per_text  = logits_per_image.T                    text j against every image
        loss = (F.cross_entropy(logits_per_image, arange(N)) + F.cross_entropy(logits_per_text, arange(N))) / 2

    the mean of the image-to-text and the text-to-image cross-entropies. Gradients flow into both embeddings
    and into ``logit_scale`` when it is a tensor that requires grad (never turn it into a Python number).

    Returns:
        A 0-dim tensor with the embeddings' dtype.

    Raises:
        ValueError: an input is not 2-D, N == 0, the D differ, or the numbers of images and texts differ
            (rectangular batches are not defined for the symmetric loss).
    """
    raise NotImplementedError
