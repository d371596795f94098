"""Grading tests for the adam exercise. Your Adam / AdamW and torch.optim.Adam / AdamW run side by side on
copies of the same parameters, fed the same gradients; the parameters are observed after every step and the
optimizer state at the end. Parameter 1 never gets a gradient and parameter 2 gets none at steps 2 and 4, so
it takes fewer steps than the others (its own step count, its own bias correction)."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
SHAPES = [(3, 4), (2,), (5,), ()]
NEVER = 1  # this parameter never has a gradient
SKIPS = {2: (2, 4)}  # parameter 2 has no gradient at these steps (1-based)
SCALES = [3.0, 1.0, 0.3, 2.0, 0.1, 0.05, 1.5]  # gradient sizes per step: v falls at times, so amsgrad matters

ADAM = {
    "lr=0.01": {"lr": 0.01},
    "weight_decay=0.1": {"lr": 0.01, "weight_decay": 0.1},
    "betas=(0.8, 0.9)": {"lr": 0.05, "betas": (0.8, 0.9)},
    "amsgrad": {"lr": 0.01, "betas": (0.9, 0.99), "amsgrad": True},
    "amsgrad-weight_decay": {"lr": 0.02, "betas": (0.8, 0.95), "weight_decay": 0.05, "amsgrad": True},
    "eps=0.01": {"lr": 0.05, "eps": 0.01, "betas": (0.9, 0.9)},
}
ADAMW = {
    "lr=0.01": {"lr": 0.01},
    "weight_decay=0.1": {"lr": 0.05, "weight_decay": 0.1},
    "amsgrad-weight_decay": {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.2, "amsgrad": True},
    "eps=0.01": {"lr": 0.05, "eps": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.1},
}
TORCH = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}


def _describe(settings: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())


def _rule(name: str, settings: dict) -> str:
    wd = settings.get("weight_decay", 1e-2 if name == "AdamW" else 0.0)
    parts = []
    if wd and name == "Adam":
        parts.append("g = p.grad + weight_decay * p (L2, in the gradient)")
    if wd and name == "AdamW":
        parts.append("p = p - lr * weight_decay * p first (decoupled, not in the gradient)")
    parts.append("m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2")
    if settings.get("amsgrad"):
        parts.append("v_max = max(v_max, v), used instead of v")
    parts.append("p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), t the parameter's own step")
    return f"torch.optim.{name}({_describe(settings)}): " + "; ".join(parts)


def _data(seed: int, steps: int, dtype):
    generator = torch.Generator().manual_seed(seed)
    initial = [torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES]
    grads = [[torch.randn(shape, generator=generator, dtype=dtype) * SCALES[t % len(SCALES)] for shape in SHAPES]
             for t in range(steps)]
    return initial, grads


def _set_grads(params, grads, step: int) -> None:
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        skipped = i == NEVER or step + 1 in SKIPS.get(i, ())
        p.grad = None if skipped else g.clone()


def _state(optimizer, params) -> list[dict | None]:
    """Each parameter's state as plain values (None when it has none), step as a float."""
    out = []
    for p in params:
        state = optimizer.state.get(p)
        if not state:
            out.append(None)
            continue
        entry = {key: value.clone() for key, value in state.items() if key != "step"}
        entry["step"] = float(state["step"])
        out.append(entry)
    return out


def _side_by_side(impl, name: str, settings: dict, *, steps: int = 7, dtype=f64, seed: int = 0) -> None:
    initial, grads = _data(seed, steps, dtype)
    want = [p.clone().requires_grad_() for p in initial]
    got = [p.clone().requires_grad_() for p in initial]
    reference = TORCH[name](want, **settings)
    optimizer = getattr(impl, name)(got, **settings)
    for step in range(steps):
        _set_grads(want, grads[step], step)
        _set_grads(got, grads[step], step)
        reference.step()
        optimizer.step()
        observe(f"{name}({_describe(settings)}), {dtype}: the parameters after step {step + 1}, [parameter]",
                [p.detach().clone() for p in got], expect=[p.detach().clone() for p in want],
                explain=_rule(name, settings) + f". Parameter {NEVER} has no gradient and must not move; "
                        f"parameter 2 has none at steps 2 and 4")
    observe(f"{name}({_describe(settings)}), {dtype}: optimizer.state after {steps} steps, [parameter]",
            _state(optimizer, got), expect=_state(reference, want),
            explain="per parameter: step (its own count), exp_avg (m), exp_avg_sq (v) and, with amsgrad, "
                    f"max_exp_avg_sq (v_max), as torch keeps them; parameter {NEVER}, never given a gradient, has "
                    "no state; parameter 2 took 2 steps fewer")


def _scalar_steps(optimizer, p, grads) -> None:
    for grad in grads:
        p.grad = None if grad is None else torch.tensor([grad], dtype=f64)
        optimizer.step()


@pytest.mark.task("Adam")
def test_adam_first_step_worked_example(impl) -> None:
    p = torch.tensor([1.0, -2.0, 0.5], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([p], lr=0.1)
    p.grad = torch.tensor([0.5, -3.0, 1e-3], dtype=f64)
    optimizer.step()
    observe("p after one Adam(lr=0.1) step from [1, -2, 0.5] with grad [0.5, -3, 0.001]", p,
            expect=torch.tensor([0.9, -1.9, 0.5 - 0.1 * 1e-3 / (1e-3 + 1e-8)], dtype=f64),
            explain="at step 1 the bias corrections (1 - beta1^1, 1 - beta2^1) turn m and v into g and g^2, so "
                    "every entry moves by lr * g / (|g| + eps), eps added after the square root: about lr against "
                    "the sign of its gradient, whatever its size")


@pytest.mark.task("Adam")
def test_adam_constant_gradient_worked_example(impl) -> None:
    p = torch.tensor([1.0], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([p], lr=0.1)
    _scalar_steps(optimizer, p, [0.5, 0.5, 0.5])
    observe("p after 3 Adam(lr=0.1) steps from 1.0 with the same gradient 0.5 each time", p,
            expect=torch.tensor([1.0 - 3 * 0.1 * 0.5 / (0.5 + 1e-8)], dtype=f64),
            explain="m and v are kept from step to step; with a constant g, m = (1 - beta1^t) g and "
                    "v = (1 - beta2^t) g^2, so the bias-corrected m and v are g and g^2 at every step and p moves "
                    "by lr each time")


@pytest.mark.task("Adam")
def test_adam_skips_parameters_without_grad(impl) -> None:
    p = torch.tensor([1.0], dtype=f64, requires_grad=True)
    never = torch.tensor([2.0], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([p, never], lr=0.1, weight_decay=0.1)
    _scalar_steps(optimizer, p, [0.5])
    after_one = p.detach().clone()
    _scalar_steps(optimizer, p, [None])
    observe("how far p moved in a step in which its grad was None", p - after_one,
            expect=torch.zeros(1, dtype=f64), exact=True,
            explain="a parameter whose .grad is None is skipped: it does not move (not even by weight decay)")
    observe("optimizer.state[p]['step'] after a step with no grad", float(optimizer.state[p]["step"]), expect=1.0,
            explain="its step count does not advance when it is skipped")
    observe("a parameter that never had a gradient, and whether it has state", [never, never in optimizer.state],
            expect=[torch.tensor([2.0], dtype=f64), False],
            explain="never given a gradient: never moved, no entry in optimizer.state")


@pytest.mark.task("Adam")
def test_adam_step_count_is_per_parameter(impl) -> None:
    early = torch.tensor([1.0], dtype=f64, requires_grad=True)
    late = torch.tensor([1.0], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([early, late], lr=0.1)
    early.grad = torch.tensor([0.5], dtype=f64)
    optimizer.step()  # late has no gradient yet
    for _ in range(2):
        early.grad = torch.tensor([0.5], dtype=f64)
        late.grad = torch.tensor([0.5], dtype=f64)
        optimizer.step()
    observe("a parameter that first got a gradient at step 2, after 2 steps of gradient 0.5 (lr=0.1)", late,
            expect=torch.tensor([1.0 - 2 * 0.1 * 0.5 / (0.5 + 1e-8)], dtype=f64),
            explain="the bias corrections use the parameter's own step count t (1, 2 for this one), not the "
                    "number of optimizer.step() calls: it moves by lr at each of its steps")
    observe("optimizer.state[p]['step'] of the two parameters", [float(optimizer.state[q]["step"])
                                                                 for q in (early, late)], expect=[3.0, 2.0],
            explain="each parameter counts the steps it took")


@pytest.mark.task("Adam")
def test_adam_weight_decay_worked_example(impl) -> None:
    p = torch.tensor([2.0, -1.0], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(2, dtype=f64)
    optimizer.step()
    observe("p after one Adam(lr=0.1, weight_decay=0.5) step from [2, -1] with a zero gradient", p,
            expect=torch.tensor([2.0 - 0.1 * 1.0 / (1.0 + 1e-8), -1.0 + 0.1 * 0.5 / (0.5 + 1e-8)], dtype=f64),
            explain="Adam's weight decay is an L2 term in the gradient: g = 0 + 0.5 * p = [1, -0.5], which then "
                    "goes through m and v like any gradient, so each entry moves by about lr (not p * (1 - lr * wd))")


@pytest.mark.task("Adam")
def test_adam_amsgrad_worked_example(impl) -> None:
    p = torch.tensor([1.0], dtype=f64, requires_grad=True)
    optimizer = impl.Adam([p], lr=0.1, betas=(0.5, 0.5), amsgrad=True)
    _scalar_steps(optimizer, p, [2.0, 0.0])
    # step 1: m = 1, v = 2, v_max = 2, p = 1 - 0.1 * 2 / (2 + eps); step 2: m = 0.5, v = 1, v_max = 2
    want = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8) - 0.1 / 0.75 * 0.5 / (2.0 ** 0.5 / 0.75 ** 0.5 + 1e-8)
    observe("p after Adam(lr=0.1, betas=(0.5, 0.5), amsgrad=True) steps with gradients 2 then 0", p,
            expect=torch.tensor([want], dtype=f64),
            explain="step 2: m = 0.5, v = 0.5 * 2 + 0.5 * 0 = 1, v_max = max(2, 1) = 2 (the raw second moments), "
                    "then p -= lr / (1 - 0.5^2) * m / (sqrt(v_max) / sqrt(1 - 0.5^2) + eps)")
    observe("optimizer.state[p]['max_exp_avg_sq'] after the two steps", optimizer.state[p]["max_exp_avg_sq"],
            expect=torch.tensor([2.0], dtype=f64), explain="the running max of v itself, before bias correction")


@pytest.mark.task("AdamW")
def test_adamw_decay_worked_example(impl) -> None:
    p = torch.tensor([2.0, -1.0], dtype=f64, requires_grad=True)
    optimizer = impl.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(2, dtype=f64)
    optimizer.step()
    observe("p after one AdamW(lr=0.1, weight_decay=0.5) step from [2, -1] with a zero gradient", p,
            expect=torch.tensor([2.0 * 0.95, -1.0 * 0.95], dtype=f64),
            explain="decoupled decay: p = p - lr * weight_decay * p = p * (1 - 0.1 * 0.5); nothing is added to the "
                    "gradient, so the Adam update of a zero gradient is zero")
    q = torch.tensor([2.0, -1.0], dtype=f64, requires_grad=True)
    optimizer = impl.AdamW([q], lr=0.1, weight_decay=0.5)
    q.grad = torch.tensor([0.5, 0.5], dtype=f64)
    optimizer.step()
    observe("p after one AdamW(lr=0.1, weight_decay=0.5) step from [2, -1] with gradient [0.5, 0.5]", q,
            expect=torch.tensor([2.0 * 0.95 - 0.1, -1.0 * 0.95 - 0.1], dtype=f64),
            explain="the decay uses p from before this step's update: p * (1 - lr * wd) - lr * g / (|g| + eps), "
                    "not (p - lr * g / (|g| + eps)) * (1 - lr * wd)")


@pytest.mark.task("Adam")
@pytest.mark.parametrize("name", list(ADAM))
def test_adam_matches_torch(impl, name: str) -> None:
    _side_by_side(impl, "Adam", ADAM[name])


@pytest.mark.task("AdamW")
@pytest.mark.parametrize("name", list(ADAMW))
def test_adamw_matches_torch(impl, name: str) -> None:
    _side_by_side(impl, "AdamW", ADAMW[name])


@pytest.mark.task("Adam")
def test_adam_float32(impl) -> None:
    _side_by_side(impl, "Adam", ADAM["amsgrad-weight_decay"], dtype=torch.float32, seed=1)


@pytest.mark.task("AdamW")
def test_adamw_float32(impl) -> None:
    _side_by_side(impl, "AdamW", ADAMW["amsgrad-weight_decay"], dtype=torch.float32, seed=2)


@pytest.mark.task("Adam")
def test_adam_leaves_grad_alone(impl) -> None:
    p = torch.randn(4, generator=torch.Generator().manual_seed(3), dtype=f64).requires_grad_()
    grad = torch.randn(4, generator=torch.Generator().manual_seed(4), dtype=f64)
    p.grad = grad.clone()
    impl.Adam([p], lr=0.1, weight_decay=0.5).step()
    observe("p.grad after one Adam step with weight_decay=0.5", p.grad, expect=grad,
            explain="the L2 term goes into the gradient the update uses (g = p.grad + wd * p, out of place), not "
                    "into p.grad itself")
    observe("p.requires_grad and p.grad_fn after the step", [p.requires_grad, p.grad_fn is None], expect=[True, True],
            explain="the update runs in place under torch.no_grad(): p stays a leaf")


def _groups(impl, name: str, seed: int) -> None:
    initial, grads = _data(seed, 5, f64)
    want = [p.clone().requires_grad_() for p in initial]
    got = [p.clone().requires_grad_() for p in initial]

    def groups(params):
        return [{"params": [params[0], params[1]], "lr": 0.03, "weight_decay": 0.1},
                {"params": [params[2]], "betas": (0.5, 0.7), "amsgrad": True},
                {"params": [params[3]]}]

    reference = TORCH[name](groups(want), lr=0.01, weight_decay=0.02)
    optimizer = getattr(impl, name)(groups(got), lr=0.01, weight_decay=0.02)
    keys = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    observe(f"{name}: the hyper-parameters of each of 3 parameter groups, [group]",
            [{key: (list(g[key]) if key == "betas" else g[key]) for key in keys} for g in optimizer.param_groups],
            expect=[{key: (list(g[key]) if key == "betas" else g[key]) for key in keys}
                    for g in reference.param_groups],
            explain="a group's own values win; every hyper-parameter it does not set comes from the "
                    "constructor's arguments (lr=0.01, weight_decay=0.02) or their defaults")
    for step in range(5):
        _set_grads(want, grads[step], step)
        _set_grads(got, grads[step], step)
        reference.step()
        optimizer.step()
        observe(f"{name} with 3 parameter groups: the parameters after step {step + 1}, [parameter]",
                [p.detach().clone() for p in got], expect=[p.detach().clone() for p in want],
                explain="each parameter is updated with its own group's lr, betas, weight_decay and amsgrad")


@pytest.mark.task("Adam")
def test_adam_param_groups(impl) -> None:
    _groups(impl, "Adam", 5)


@pytest.mark.task("AdamW")
def test_adamw_param_groups(impl) -> None:
    _groups(impl, "AdamW", 6)


def _state_dict_round_trip(impl, name: str) -> None:
    initial, grads = _data(7, 6, f64)
    want = [p.clone().requires_grad_() for p in initial]
    got = [p.clone().requires_grad_() for p in initial]
    settings = {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}
    reference = TORCH[name](want, **settings)
    optimizer = getattr(impl, name)(got, **settings)
    for step in range(3):
        _set_grads(want, grads[step], step)
        _set_grads(got, grads[step], step)
        reference.step()
        optimizer.step()
    saved = optimizer.state_dict()
    observe(f"{name}: the step of each parameter in state_dict()['state'] after 3 steps",
            {index: float(entry["step"]) for index, entry in saved["state"].items()},
            expect={0: 3.0, 2: 2.0, 3: 3.0},
            explain=f"state_dict() numbers the parameters 0, 1, ... and holds the state of each one that took a "
                    f"step: parameter {NEVER} has none, parameter 2 skipped step 2")
    resumed = getattr(impl, name)(got, **settings)
    resumed.load_state_dict(saved)
    for step in range(3, 6):
        _set_grads(want, grads[step], step)
        _set_grads(got, grads[step], step)
        reference.step()
        resumed.step()
        observe(f"{name}: the parameters at step {step + 1}, with a new optimizer after load_state_dict",
                [p.detach().clone() for p in got], expect=[p.detach().clone() for p in want],
                explain="the moments and step counts live in self.state, so load_state_dict restores them and "
                        "the run goes on as if never interrupted")


@pytest.mark.task("Adam")
def test_adam_state_dict_round_trip(impl) -> None:
    _state_dict_round_trip(impl, "Adam")


@pytest.mark.task("AdamW")
def test_adamw_state_dict_round_trip(impl) -> None:
    _state_dict_round_trip(impl, "AdamW")


def _step_with_closure(impl, name: str) -> None:
    torch.manual_seed(8)
    model = torch.nn.Linear(3, 2).to(f64)
    want = torch.nn.Linear(3, 2).to(f64)
    want.load_state_dict(model.state_dict())
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(9), dtype=f64)
    optimizer = getattr(impl, name)(model.parameters(), lr=0.1)
    reference = TORCH[name](want.parameters(), lr=0.1)
    calls = []

    def closure(net, opt):
        def run():
            calls.append(torch.is_grad_enabled())
            opt.zero_grad()
            loss = net(x).square().mean()
            loss.backward()
            return loss
        return run

    losses = [optimizer.step(closure(model, optimizer)) for _ in range(3)]
    for _ in range(3):
        reference.step(closure(want, reference))
    observe(f"{name}.step(closure) three times: what each call returned",
            [loss.detach() if isinstance(loss, torch.Tensor) else loss for loss in losses],
            explain="step(closure) calls the closure once (it computes the loss and its gradients) and returns "
                    "its loss")
    observe("whether gradients were enabled in each closure call", calls[:3], expect=[True, True, True],
            explain="the closure runs under torch.enable_grad(), even though the update itself does not")
    observe(f"{name}: the weights after 3 steps with a closure", [model.weight, model.bias],
            expect=[want.weight, want.bias], explain="each step uses the gradients its closure just computed")


@pytest.mark.task("Adam")
def test_adam_step_with_closure(impl) -> None:
    _step_with_closure(impl, "Adam")


@pytest.mark.task("AdamW")
def test_adamw_step_with_closure(impl) -> None:
    _step_with_closure(impl, "AdamW")


@pytest.mark.task("Adam")
def test_adam_defaults(impl) -> None:
    optimizer = impl.Adam([torch.zeros(2, requires_grad=True)])
    group = optimizer.param_groups[0]
    observe("Adam(params).param_groups[0]'s hyper-parameters",
            {"lr": group["lr"], "betas": [float(b) for b in group["betas"]], "eps": group["eps"],
             "weight_decay": group["weight_decay"], "amsgrad": group["amsgrad"]},
            expect={"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
            explain="the defaults of torch.optim.Adam")


@pytest.mark.task("AdamW")
def test_adamw_defaults(impl) -> None:
    optimizer = impl.AdamW([torch.zeros(2, requires_grad=True)])
    group = optimizer.param_groups[0]
    observe("AdamW(params).param_groups[0]'s hyper-parameters",
            {"lr": group["lr"], "betas": [float(b) for b in group["betas"]], "eps": group["eps"],
             "weight_decay": group["weight_decay"], "amsgrad": group["amsgrad"]},
            expect={"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
            explain="the defaults of torch.optim.AdamW: weight_decay is 1e-2, not 0")


def _rejects_bad_hyper_parameters(impl, name: str, bad: dict) -> None:
    with expect_raises(f"{name}(params, {_describe(bad)})", ValueError,
                       explain="lr, eps and weight_decay must be >= 0 and each beta in [0, 1): ValueError"):
        getattr(impl, name)([torch.zeros(2, requires_grad=True)], **bad)


@pytest.mark.task("Adam")
@pytest.mark.parametrize("bad", [{"lr": -0.1}, {"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)}, {"eps": -1e-8},
                                 {"weight_decay": -0.01}], ids=["lr", "beta1", "beta2", "eps", "weight_decay"])
def test_adam_rejects_bad_hyper_parameters(impl, bad: dict) -> None:
    _rejects_bad_hyper_parameters(impl, "Adam", bad)


@pytest.mark.task("AdamW")
@pytest.mark.parametrize("bad", [{"lr": -0.1}, {"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)}, {"eps": -1e-8},
                                 {"weight_decay": -0.01}], ids=["lr", "beta1", "beta2", "eps", "weight_decay"])
def test_adamw_rejects_bad_hyper_parameters(impl, bad: dict) -> None:
    _rejects_bad_hyper_parameters(impl, "AdamW", bad)


def _written_by_hand(impl, monkeypatch, name: str) -> None:
    import torch.optim.adam as torch_adam

    calls = []
    for function in ("adam", "_single_tensor_adam", "_multi_tensor_adam", "_fused_adam"):
        original = getattr(torch_adam, function)

        def spy(*args, _original=original, _name=function, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch_adam, function, spy)
    p = torch.ones(3, dtype=f64, requires_grad=True)
    optimizer = getattr(impl, name)([p], lr=0.1, weight_decay=0.1, amsgrad=True)
    for _ in range(2):
        p.grad = torch.full((3,), 0.5, dtype=f64)
        optimizer.step()
    observe(f"calls into torch.optim.adam's update functions during two {name} steps", calls, expect=[],
            explain="the update is written by hand with tensor operations, not handed to torch.optim.Adam's "
                    "implementation")


@pytest.mark.task("Adam")
def test_adam_written_by_hand(impl, monkeypatch) -> None:
    _written_by_hand(impl, monkeypatch, "Adam")


@pytest.mark.task("AdamW")
def test_adamw_written_by_hand(impl, monkeypatch) -> None:
    _written_by_hand(impl, monkeypatch, "AdamW")
