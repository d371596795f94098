"""Grading tests for the contrastive exercise. Values and gradients are compared with a reference written
here with F.normalize and F.cross_entropy (so every test states the formula it expects), in float32 and
float64; then the corners: rows rescaled from 1e-3 to 1e6, temperatures down to 1e-3, extra negatives, and
three behaviours (aligned positives lower the loss, a consistent permutation of the batch changes nothing,
the symmetric loss is the mean of both directions)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from quiz.grading.scenario import expect_raises, observe

DTYPES = [torch.float32, torch.float64]
NCE_DEF = ("logits[i, j] = cos(queries[i], keys[j]) / temperature and loss = F.cross_entropy(logits, arange(N)): "
           "the mean over the N queries of -log softmax(logits[i])[i], the softmax over ALL keys, the positive "
           "included")
CLIP_DEF = ("logits_per_image = exp(logit_scale) * cos(image_i, text_j) (logit_scale is the log of the inverse "
            "temperature) and loss = (CE(logits_per_image) + CE(logits_per_image.T)) / 2")


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _tol(dtype: torch.dtype, temperature: float = 0.07) -> dict:
    """float32 leaves room for another, equally good formula (rounding grows like 1 / temperature)."""
    if dtype == torch.float64:
        return {}
    scaled = 1e-5 * max(1.0, 0.1 / temperature)
    return {"rtol": scaled, "atol": scaled}


def _emb(seed: int, n: int, d: int, dtype: torch.dtype, spread: bool = False) -> torch.Tensor:
    """Random embeddings; with ``spread`` the row norms range from 1e-3 to 1e6."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    if spread:
        norms = torch.logspace(-3, 6, n, dtype=dtype)[torch.randperm(n, generator=g)]
        x = x / x.norm(dim=1, keepdim=True) * norms[:, None]
    return x


def _nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(queries.size(0)))


def _clip(image: torch.Tensor, text: torch.Tensor, logit_scale) -> torch.Tensor:
    scale = logit_scale.exp() if isinstance(logit_scale, torch.Tensor) else math.exp(logit_scale)
    logits = scale * F.normalize(image, dim=1) @ F.normalize(text, dim=1).T
    targets = torch.arange(image.size(0))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def _grads(fn, *tensors: torch.Tensor, **kwargs):
    """The loss and its gradients with respect to fresh leaf copies of ``tensors``."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss = fn(*leaves, **kwargs)
    loss.backward()
    return loss.detach(), [leaf.grad for leaf in leaves]


# ------------------------------------------------------------------------------------------------ info_nce


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_info_nce_only_directions_matter(impl, dtype):
    queries, keys = F.normalize(_emb(1, 6, 8, dtype), dim=1), F.normalize(_emb(2, 6, 8, dtype), dim=1)
    scales = torch.logspace(-3, 6, 6, dtype=dtype)[:, None]
    change = impl.info_nce(queries * scales, keys * scales.flip(0), 0.5) - impl.info_nce(queries, keys, 0.5)
    observe(f"info_nce(queries * s, keys * s.flip(0), 0.5) - info_nce(queries, keys, 0.5) for unit rows and row "
            f"scales s from 1e-3 to 1e6 ({_name(dtype)})", change, expect=torch.zeros((), dtype=dtype), atol=1e-4,
            explain="every ROW (one embedding) is L2-normalised inside the loss, F.normalize(x, dim=1): rescaling "
                    "an embedding leaves its cosines, and the loss, unchanged")


@pytest.mark.task("info_nce")
def test_info_nce_hand_computed(impl):
    # Unit rows. cosines [[1, 0.8], [0.6, 0]], / 0.5 -> logits [[2, 1.6], [1.2, 0]].
    queries = torch.tensor([[0.6, 0.8], [1.0, 0.0]], dtype=torch.float64)
    keys = torch.tensor([[0.6, 0.8], [0.0, 1.0]], dtype=torch.float64)
    want = (math.log1p(math.exp(-0.4)) + math.log1p(math.exp(1.2))) / 2
    observe("info_nce(queries=[[0.6, 0.8], [1, 0]], keys=[[0.6, 0.8], [0, 1]], temperature=0.5)",
            impl.info_nce(queries, keys, 0.5), expect=torch.tensor(want, dtype=torch.float64),
            explain=f"{NCE_DEF}; here logits = [[2, 1.6], [1.2, 0]], so the loss is "
                    "(log(1 + e^-0.4) + log(1 + e^1.2)) / 2 = 0.98815, a 0-dim tensor")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_info_nce_random(impl, dtype):
    for seed, (n, d, temperature) in enumerate([(1, 3, 0.07), (4, 16, 0.07), (16, 32, 0.2), (33, 8, 1.0)]):
        queries, keys = _emb(10 + seed, n, d, dtype, spread=True), _emb(20 + seed, n, d, dtype, spread=True)
        observe(f"info_nce on ({n}, {d}) {_name(dtype)} embeddings, temperature={temperature}",
                impl.info_nce(queries, keys, temperature), expect=_nce(queries, keys, temperature),
                **_tol(dtype, temperature), explain=f"{NCE_DEF}; the embeddings' dtype, 0-dim")
    queries, keys = _emb(30, 8, 16, dtype), _emb(31, 8, 16, dtype)
    observe(f"info_nce(queries, keys) with the default temperature ({_name(dtype)})", impl.info_nce(queries, keys),
            expect=_nce(queries, keys, 0.07), **_tol(dtype), explain="the default temperature is 0.07")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_info_nce_gradients(impl, dtype):
    queries, keys = _emb(40, 10, 12, dtype), _emb(41, 10, 12, dtype)
    loss, (g_q, g_k) = _grads(impl.info_nce, queries, keys, temperature=0.1)
    _, (want_q, want_k) = _grads(_nce, queries, keys, temperature=0.1)
    where = f"info_nce on (10, 12) {_name(dtype)} embeddings, temperature=0.1"
    observe(f"gradient of {where} with respect to queries", g_q, expect=want_q, **_tol(dtype, 0.1),
            explain="the gradient of F.cross_entropy(normalize(queries) @ normalize(keys).T / temperature, "
                    "arange(N)): the loss is built from differentiable operations on the inputs")
    observe(f"gradient of {where} with respect to keys", g_k, expect=want_k, **_tol(dtype, 0.1),
            explain="the keys get gradients too: as their positive and as the other queries' negatives")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_info_nce_small_temperature(impl, dtype):
    queries, keys = _emb(50, 12, 16, dtype, spread=True), _emb(51, 12, 16, dtype, spread=True)
    loss, (g_q, g_k) = _grads(impl.info_nce, queries, keys, temperature=1e-3)
    _, (want_q, want_k) = _grads(_nce, queries, keys, temperature=1e-3)
    where = f"info_nce at temperature=1e-3 (logits up to 1000, {_name(dtype)}, row norms 1e-3 to 1e6)"
    observe(f"whether the loss of {where} is finite", bool(torch.isfinite(loss)), expect=True,
            explain="exp(1000) overflows in float32 and float64 alike: take the cross-entropy from log_softmax "
                    "(logsumexp subtracts the row maximum), never from exp of the logits")
    observe(f"the loss of {where}", loss, expect=_nce(queries, keys, 1e-3), **_tol(dtype, 1e-3), explain=NCE_DEF)
    observe(f"the gradients of {where}", [g_q, g_k], expect=[want_q, want_k], **_tol(dtype, 1e-3),
            explain="finite gradients equal to those of F.cross_entropy on the same logits")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_info_nce_extra_negatives(impl, dtype):
    queries, keys = _emb(60, 4, 6, dtype), _emb(61, 10, 6, dtype)
    observe(f"info_nce with 4 queries and 10 keys ({_name(dtype)}): keys[4:] are extra negatives",
            impl.info_nce(queries, keys, 0.2), expect=_nce(queries, keys, 0.2), **_tol(dtype, 0.2),
            explain="query i's positive is keys[i]; every other key, the 6 extra ones included, is a negative: "
                    "logits of shape (N, M) = (4, 10), cross-entropy with targets arange(4)")


@pytest.mark.task("info_nce")
def test_info_nce_behaviour(impl):
    f64 = torch.float64
    queries, noise = _emb(70, 16, 8, f64), _emb(71, 16, 8, f64)
    unit = F.normalize(queries, dim=1)
    losses = [impl.info_nce(queries, a * unit + (1 - a) * F.normalize(noise, dim=1), 0.1) for a in (0.0, 0.5, 0.9, 1.0)]
    observe("info_nce as keys move from noise (a = 0) to the queries themselves (a = 1), a = 0, 0.5, 0.9, 1",
            losses, expect=[_nce(queries, a * unit + (1 - a) * F.normalize(noise, dim=1), 0.1)
                            for a in (0.0, 0.5, 0.9, 1.0)], explain=NCE_DEF)
    observe("whether the loss with keys = queries is lower than with keys = noise", bool(losses[-1] < losses[0]),
            expect=True, explain="aligned positives (cosine 1 on the diagonal) give a lower loss")
    keys = _emb(72, 16, 8, f64)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(73))
    observe("info_nce(queries[perm], keys[perm], 0.1): the batch shuffled with one permutation",
            impl.info_nce(queries[perm], keys[perm], 0.1), expect=_nce(queries, keys, 0.1),
            explain="pairs stay pairs, so a consistent permutation of the batch leaves the mean loss unchanged")
    observe("info_nce(queries, keys[perm], 0.1): only the keys shuffled", impl.info_nce(queries, keys[perm], 0.1),
            expect=_nce(queries, keys[perm], 0.1), explain="query i's positive is whatever key sits at row i")


@pytest.mark.task("info_nce")
def test_info_nce_does_not_modify_inputs(impl):
    queries, keys = _emb(80, 5, 4, torch.float32, spread=True), _emb(81, 5, 4, torch.float32, spread=True)
    impl.info_nce(queries, keys, 0.1)
    observe("queries and keys after info_nce", [queries, keys],
            expect=[_emb(80, 5, 4, torch.float32, spread=True), _emb(81, 5, 4, torch.float32, spread=True)],
            exact=True, explain="the loss normalises copies: no in-place edits of its inputs")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("case", ["fewer_keys", "other_d", "one_dim", "empty", "zero_temperature",
                                  "negative_temperature"])
def test_info_nce_rejects(impl, case):
    q = _emb(90, 4, 6, torch.float32)
    args, words = {
        "fewer_keys": ((q, _emb(91, 3, 6, torch.float32), 0.1), "4 queries and 3 keys (M < N)"),
        "other_d": ((q, _emb(91, 4, 5, torch.float32), 0.1), "queries (4, 6) and keys (4, 5)"),
        "one_dim": ((q[0], q[1], 0.1), "1-D queries and keys"),
        "empty": ((q[:0], q, 0.1), "an empty batch: (0, 6) queries and (4, 6) keys"),
        "zero_temperature": ((q, q, 0.0), "temperature=0"),
        "negative_temperature": ((q, q, -0.1), "temperature=-0.1"),
    }[case]
    with expect_raises(f"info_nce with {words}", ValueError,
                       explain="2-D inputs with the same D, N >= 1 queries, at least as many keys as queries (each "
                               "query needs its positive) and temperature > 0: ValueError otherwise"):
        impl.info_nce(*args)


# ----------------------------------------------------------------------------------------------- clip_loss


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_clip_loss_scale_on_identical_embeddings(impl, dtype):
    # With text_embeds == image_embeds the logits are symmetric: both directions give the same cross-entropy.
    x = _emb(100, 5, 8, dtype)
    logits = 4.0 * F.normalize(x, dim=1) @ F.normalize(x, dim=1).T
    observe(f"clip_loss(x, x, logit_scale=log(4)) on (5, 8) {_name(dtype)} embeddings",
            impl.clip_loss(x, x.clone(), math.log(4.0)), expect=F.cross_entropy(logits, torch.arange(5)),
            **_tol(dtype), explain="the cosines are multiplied by exp(logit_scale) = 4 (logit_scale is the log of "
                                   "the inverse temperature); with identical images and texts both directions "
                                   "give the same cross-entropy, and the loss is their mean, not their sum")


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_clip_loss_mean_of_both_directions(impl, dtype):
    image, text = _emb(110, 6, 8, dtype, spread=True), _emb(111, 6, 8, dtype, spread=True)
    scale = math.log(1 / 0.07)
    logits = math.exp(scale) * F.normalize(image, dim=1) @ F.normalize(text, dim=1).T
    targets = torch.arange(6)
    want = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    observe(f"clip_loss on (6, 8) {_name(dtype)} image and text embeddings, logit_scale=log(1/0.07)",
            impl.clip_loss(image, text, scale), expect=want, **_tol(dtype),
            explain="the mean of both directions: image-to-text CE(logits_per_image, arange(N)) and text-to-image "
                    "CE(logits_per_image.T, arange(N)), which differ when the similarities are not symmetric")
    observe("clip_loss(text, image, ...): images and texts swapped", impl.clip_loss(text, image, scale), expect=want,
            **_tol(dtype), explain="the symmetric loss does not change when images and texts swap roles")


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_clip_loss_random(impl, dtype):
    for seed, (n, d, scale) in enumerate([(1, 4, 2.6593), (3, 5, 0.0), (8, 16, 4.6052), (32, 12, 1.5)]):
        image, text = _emb(120 + seed, n, d, dtype, spread=True), _emb(130 + seed, n, d, dtype, spread=True)
        logit_scale = torch.tensor(scale, dtype=dtype)
        observe(f"clip_loss on ({n}, {d}) {_name(dtype)} embeddings, logit_scale={scale} as a tensor",
                impl.clip_loss(image, text, logit_scale), expect=_clip(image, text, logit_scale),
                **_tol(dtype, math.exp(-scale)), explain=f"{CLIP_DEF}; the embeddings' dtype, 0-dim")


@pytest.mark.task("clip_loss")
def test_clip_loss_does_not_modify_inputs(impl):
    image, text = _emb(145, 5, 4, torch.float32, spread=True), _emb(146, 5, 4, torch.float32, spread=True)
    logit_scale = torch.tensor(math.log(10.0))
    impl.clip_loss(image, text, logit_scale)
    observe("image_embeds, text_embeds and logit_scale after clip_loss", [image, text, logit_scale],
            expect=[_emb(145, 5, 4, torch.float32, spread=True), _emb(146, 5, 4, torch.float32, spread=True),
                    torch.tensor(math.log(10.0))],
            exact=True, explain="the loss normalises copies and exponentiates a copy of logit_scale: no in-place "
                                "edits of its inputs")


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_clip_loss_gradients(impl, dtype):
    image, text = _emb(140, 8, 10, dtype), _emb(141, 8, 10, dtype)
    start = torch.tensor(math.log(1 / 0.07), dtype=dtype)
    _, (g_image, g_text, g_scale) = _grads(impl.clip_loss, image, text, start)
    _, (w_image, w_text, w_scale) = _grads(_clip, image, text, start)
    where = f"clip_loss on (8, 10) {_name(dtype)} embeddings"
    observe(f"gradient of {where} with respect to image_embeds", g_image, expect=w_image, **_tol(dtype),
            explain=f"the gradient of {CLIP_DEF}")
    observe(f"gradient of {where} with respect to text_embeds", g_text, expect=w_text, **_tol(dtype),
            explain=f"the gradient of {CLIP_DEF}")
    observe(f"gradient of {where} with respect to logit_scale (a 0-dim tensor that requires grad)", g_scale,
            expect=w_scale, **_tol(dtype),
            explain="logit_scale is learned: the loss must stay differentiable in it (keep it a tensor, never "
                    "float() or .item()); d loss / d logit_scale = exp(logit_scale) * d loss / d scale")


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_clip_loss_small_temperature(impl, dtype):
    image, text = _emb(150, 12, 16, dtype, spread=True), _emb(151, 12, 16, dtype, spread=True)
    start = torch.tensor(math.log(1000.0), dtype=dtype)
    loss, grads = _grads(impl.clip_loss, image, text, start)
    _, want = _grads(_clip, image, text, start)
    where = f"clip_loss with logit_scale=log(1000) (temperature 1e-3, {_name(dtype)}, row norms 1e-3 to 1e6)"
    observe(f"whether the loss of {where} is finite", bool(torch.isfinite(loss)), expect=True,
            explain="logits up to 1000 must go through log_softmax / logsumexp, never exp of the logits")
    observe(f"the loss of {where}", loss, expect=_clip(image, text, start), **_tol(dtype, 1e-3), explain=CLIP_DEF)
    observe(f"the gradients of {where} (image, text, logit_scale)", grads, expect=want, **_tol(dtype, 1e-3),
            explain="finite gradients equal to those of F.cross_entropy on the same logits")


@pytest.mark.task("clip_loss")
def test_clip_loss_behaviour(impl):
    f64 = torch.float64
    image, noise = _emb(160, 16, 8, f64), _emb(161, 16, 8, f64)
    unit, noise = F.normalize(image, dim=1), F.normalize(noise, dim=1)
    scale = math.log(10.0)
    texts = [a * unit + (1 - a) * noise for a in (0.0, 0.5, 0.9, 1.0)]
    losses = [impl.clip_loss(image, text, scale) for text in texts]
    observe("clip_loss as texts move from noise (a = 0) to the images themselves (a = 1), a = 0, 0.5, 0.9, 1",
            losses, expect=[_clip(image, text, scale) for text in texts], explain=CLIP_DEF)
    observe("whether the loss with texts = images is lower than with texts = noise", bool(losses[-1] < losses[0]),
            expect=True, explain="aligned pairs (cosine 1 on the diagonal) give a lower loss")
    text = _emb(162, 16, 8, f64)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(163))
    observe("clip_loss(image[perm], text[perm], log(10)): the batch shuffled with one permutation",
            impl.clip_loss(image[perm], text[perm], scale), expect=_clip(image, text, scale),
            explain="pairs stay pairs, so a consistent permutation of the batch leaves the loss unchanged")


@pytest.mark.task("clip_loss")
@pytest.mark.parametrize("case", ["more_texts", "other_d", "one_dim", "empty"])
def test_clip_loss_rejects(impl, case):
    image = _emb(170, 4, 6, torch.float32)
    image, text, words = {
        "more_texts": (image, _emb(171, 6, 6, torch.float32), "4 images and 6 texts"),
        "other_d": (image, _emb(171, 4, 5, torch.float32), "image (4, 6) and text (4, 5) embeddings"),
        "one_dim": (image, image[0], "1-D text embeddings"),
        "empty": (image[:0], image[:0], "an empty batch: (0, 6) images and texts"),
    }[case]
    with expect_raises(f"clip_loss with {words}", ValueError,
                       explain="the symmetric loss needs N >= 1 images and N texts of the same D, both 2-D: "
                               "ValueError otherwise (a rectangular batch is not defined)"):
        impl.clip_loss(image, text, math.log(1 / 0.07))
