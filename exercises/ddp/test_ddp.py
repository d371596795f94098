"""Grading tests for the ddp exercise.

make_loader runs in the test process (it needs no process group). The other tasks run in 2 ranks that the
test forks itself: each joins a gloo process group on 127.0.0.1 (a free port, a 20 s timeout), runs the code
under test, and hands its results back through a file; the test waits at most 60 s, kills any rank still
running and reaps both, so no process outlives the test. The expected weights and gradients come from
single-process training on the full batch (both ranks' samples together), computed here in float64.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import shutil
import socket
import tempfile
import time
import traceback

import pytest
import torch
import torch._dynamo  # noqa: F401  imported once here so that DistributedDataParallel is quick in each rank
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from quiz.grading.scenario import observe

f64 = torch.float64
WORLD = 2
RANK_TIMEOUT_S = 60.0  # the whole run of one test
GRACE_S = 5.0  # how long the other rank may still take once one has finished
FULL_BATCH = ("each rank's weights equal single-process training on the full batch (both ranks' samples "
              "together): with the gradients averaged over the ranks, every rank takes the full batch's step")


# --- running code in 2 ranks ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(scenario, impl, rank: int, port: int, folder: str, payload) -> None:
    """In a forked rank: join the process group, run the scenario, save its result (or the error)."""
    try:
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        torch.set_num_threads(1)
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                                timeout=datetime.timedelta(seconds=20))
        try:
            result = {"error": None, **scenario(impl, rank, payload)}
        finally:
            dist.destroy_process_group()
    except BaseException as error:  # noqa: BLE001 - reported to the test as an observation
        frames = traceback.extract_tb(error.__traceback__)
        where = next((f" (line {frame.lineno} of your file: {frame.line})" for frame in reversed(frames)
                      if frame.filename == getattr(impl, "__file__", None)), "")
        what = ("not implemented yet (it raised NotImplementedError)" if isinstance(error, NotImplementedError)
                else f"{type(error).__name__}: {str(error)[:300]}")
        result = {"error": what + where}
    try:
        torch.save(result, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        os._exit(0)  # never run pytest's or the plugin's exit handlers in a forked rank


def _in_ranks(impl, scenario, payload) -> list[dict]:
    """Run ``scenario(impl, rank, payload)`` in 2 forked ranks; their results (dicts), rank 0 first."""
    folder = tempfile.mkdtemp(prefix="ddp-")
    context = multiprocessing.get_context("fork")
    port = _free_port()
    ranks = [context.Process(target=_rank_main, args=(scenario, impl, rank, port, folder, payload), daemon=True)
             for rank in range(WORLD)]
    try:
        for process in ranks:
            process.start()
        # Wait for the first rank to finish (at most RANK_TIMEOUT_S), then give the other GRACE_S: a rank that
        # waits in a collective its peer never calls would otherwise hold the test until gloo's timeout.
        deadline = time.monotonic() + RANK_TIMEOUT_S
        while time.monotonic() < deadline and all(process.is_alive() for process in ranks):
            time.sleep(0.005)
        deadline = min(deadline, time.monotonic() + GRACE_S)
        for process in ranks:
            process.join(max(0.0, deadline - time.monotonic()))
    finally:
        for process in ranks:
            if process.is_alive():
                process.kill()
            process.join()
    results = []
    for rank in range(WORLD):
        path = os.path.join(folder, f"rank{rank}.pt")
        results.append(torch.load(path, weights_only=True) if os.path.exists(path) else
                       {"error": f"rank {rank} did not finish (it was stopped {GRACE_S:.0f} s after the other rank "
                                 f"ended, or after {RANK_TIMEOUT_S:.0f} s): a collective that only some ranks call "
                                 "waits forever"})
    shutil.rmtree(folder, ignore_errors=True)
    return results


def _observe_errors(results: list[dict], what: str) -> None:
    for rank, result in enumerate(results):
        observe(f"rank {rank} ran {what} without an error", result["error"] or "no error", expect="no error",
                explain="the code must run in each rank of a 2-rank gloo process group on the CPU")


# --- data and models ------------------------------------------------------------------------------------

def _model(seed: int, frozen_first: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).to(f64)
    if frozen_first:
        model[0].requires_grad_(False)
    return model


def _data(seed: int, steps: int, per_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (steps, WORLD * per_rank, 4), y (steps, WORLD * per_rank, 2): rank r's shard of step s is
    rows r * per_rank .. (r + 1) * per_rank - 1 of step s."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(steps, WORLD * per_rank, 4, generator=gen, dtype=f64),
            torch.randn(steps, WORLD * per_rank, 2, generator=gen, dtype=f64))


def _shard(t: torch.Tensor, rank: int) -> torch.Tensor:
    per_rank = t.size(-2) // WORLD
    return t[..., rank * per_rank:(rank + 1) * per_rank, :]


def _full_batch_training(seed: int, x: torch.Tensor, y: torch.Tensor, make_optimizer) -> list[dict]:
    """The single-process reference: the state_dict after each step of training on the full batches."""
    model = _model(seed)
    optimizer = make_optimizer(model.parameters())
    states = []
    for step in range(x.size(0)):
        optimizer.zero_grad()
        F.mse_loss(model(x[step]), y[step]).backward()
        optimizer.step()
        states.append({key: value.clone() for key, value in model.state_dict().items()})
    return states


def _sgd(parameters):
    return torch.optim.SGD(parameters, lr=0.1, momentum=0.9)


def _adam(parameters):
    return torch.optim.Adam(parameters, lr=0.05)


# --- make_loader ----------------------------------------------------------------------------------------

class Indexes(Dataset):
    """Item i is the number i, so a loader's batches show which samples it drew."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor(index)


def _drawn(impl, n: int, batch_size: int, rank: int, epoch: int, seed: int = 0) -> list[list[int]]:
    return [batch.tolist() for batch in impl.make_loader(Indexes(n), batch_size, rank, WORLD, epoch, seed)]


@pytest.mark.task("make_loader")
def test_loader_shards_do_not_overlap(impl) -> None:
    shards = [sum(_drawn(impl, 10, 3, rank, epoch=0), []) for rank in range(WORLD)]
    observe("every sample of a 10-sample dataset, drawn by rank 0 and rank 1 together (sorted)",
            sorted(shards[0] + shards[1]), expect=list(range(10)),
            explain="DistributedSampler(num_replicas=world_size, rank=rank) gives each rank its own 5 samples: "
                    "no sample is seen by both ranks and none is missed")


@pytest.mark.task("make_loader")
def test_loader_batches(impl) -> None:
    for rank in range(WORLD):
        observe(f"rank {rank}'s batches of a 10-sample dataset, batch_size 3, epoch 0",
                _drawn(impl, 10, 3, rank, epoch=0),
                explain="the order DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=0) "
                        "gives after set_epoch(0), in batches of 3 (the last one smaller)")


@pytest.mark.task("make_loader")
def test_loader_new_order_each_epoch(impl) -> None:
    epoch0 = sum(_drawn(impl, 16, 4, 0, epoch=0), [])
    epoch1 = sum(_drawn(impl, 16, 4, 0, epoch=1), [])
    observe("rank 0's samples in epoch 1 differ from those in epoch 0 (16 samples)", epoch1 != epoch0,
            expect=True, explain="sampler.set_epoch(epoch) seeds the shuffle with seed + epoch: without it every "
                                 "epoch repeats the same order")
    observe("rank 0's samples in epoch 1 (16 samples)", epoch1,
            explain="DistributedSampler's order after set_epoch(1)")


@pytest.mark.task("make_loader")
def test_loader_seed(impl) -> None:
    observe("rank 1's samples in epoch 0 with seed=7 (16 samples)", sum(_drawn(impl, 16, 4, 1, 0, seed=7), []),
            explain="the sampler's seed is the seed given (seed=7), the same on every rank")


@pytest.mark.task("make_loader")
def test_loader_pads_uneven_datasets(impl) -> None:
    shards = [sum(_drawn(impl, 7, 2, rank, epoch=3), []) for rank in range(WORLD)]
    observe("number of samples rank 0 and rank 1 draw from a 7-sample dataset", [len(s) for s in shards],
            expect=[4, 4], explain="with drop_last=False each rank gets ceil(7 / 2) = 4 samples: the sampler "
                                   "repeats one so that every rank does the same number of steps")
    observe("samples of a 7-sample dataset drawn by the two ranks in epoch 3", shards,
            explain="DistributedSampler's padded order after set_epoch(3)")


# --- average_gradients ----------------------------------------------------------------------------------

def _average_scenario(impl, rank: int, payload) -> dict:
    seed, frozen, x, y = payload
    model = _model(seed, frozen_first=frozen)
    F.mse_loss(model(_shard(x, rank)), _shard(y, rank)).backward()
    local = [p.grad.clone() if p.grad is not None else None for p in model.parameters()]
    returned = impl.average_gradients(model)
    return {"grads": [p.grad for p in model.parameters()], "local": local, "returned": returned,
            "weights": [p.detach() for p in model.parameters()]}


def _full_batch_grads(seed: int, frozen: bool, x: torch.Tensor, y: torch.Tensor) -> list:
    model = _model(seed, frozen_first=frozen)
    F.mse_loss(model(x), y).backward()
    return [p.grad for p in model.parameters()]


@pytest.mark.task("average_gradients")
def test_average_gradients_equal_the_full_batch(impl) -> None:
    x, y = _data(10, 1, 3)
    results = _in_ranks(impl, _average_scenario, (11, False, x[0], y[0]))
    _observe_errors(results, "average_gradients")
    expected = _full_batch_grads(11, False, x[0], y[0])
    local = [result.get("local") for result in results]
    observe("the two ranks' gradients before average_gradients differ (their shards differ)",
            local[0] is not None and local[1] is not None and not torch.equal(local[0][0], local[1][0]),
            expect=True, explain="a check of the test itself: each rank backpropagated its own shard")
    grads = [result.get("grads") for result in results]
    observe("rank 1's gradients minus rank 0's after average_gradients",
            [g1 - g0 for g0, g1 in zip(grads[0], grads[1], strict=True)] if grads[0] and grads[1] else None,
            expect=[torch.zeros_like(g) for g in expected],
            explain="after average_gradients every rank holds the same gradients: all_reduce each parameter's "
                    ".grad (not its weights, .data)")
    for rank, result in enumerate(results):
        observe(f"rank {rank}'s gradients after average_gradients", result.get("grads"), expect=expected,
                explain="all_reduce(grad, op=SUM) adds the ranks' gradients in place; dividing by world_size makes "
                        "the mean, the gradient of the mean loss over the full batch (both shards): the same on "
                        "every rank")
    observe("weights after average_gradients (rank 0)", results[0].get("weights"),
            explain="average_gradients changes the gradients only, never the weights")
    observe("what average_gradients returns", results[0].get("returned"), expect=None,
            explain="average_gradients works in place and returns None")


@pytest.mark.task("average_gradients")
def test_average_gradients_skips_frozen_parameters(impl) -> None:
    x, y = _data(12, 1, 2)
    results = _in_ranks(impl, _average_scenario, (13, True, x[0], y[0]))
    _observe_errors(results, "average_gradients with the first layer frozen (its .grad is None)")
    expected = _full_batch_grads(13, True, x[0], y[0])
    for rank, result in enumerate(results):
        observe(f"rank {rank}'s gradients after average_gradients, first layer frozen", result.get("grads"),
                expect=expected,
                explain="parameters whose .grad is None are skipped (they stay None); the others are averaged")


# --- train_step -----------------------------------------------------------------------------------------

def _train_step_scenario(impl, rank: int, payload) -> dict:
    seed, x, y = payload
    model = _model(seed)
    optimizer = _sgd(model.parameters())
    states, losses = [], []
    for step in range(x.size(0)):
        losses.append(impl.train_step(model, optimizer, _shard(x[step], rank), _shard(y[step], rank)))
        states.append({key: value.clone() for key, value in model.state_dict().items()})
    return {"states": states, "losses": losses}


@pytest.mark.task("train_step")
def test_train_step_returns_the_local_loss(impl) -> None:
    x, y = _data(22, 2, 3)
    results = _in_ranks(impl, _train_step_scenario, (23, x, y))
    _observe_errors(results, "2 calls of train_step")
    for rank, result in enumerate(results):
        losses = result.get("losses")
        observe(f"types of what rank {rank}'s train_step calls return", [type(v).__name__ for v in losses or []],
                expect=["float", "float"], explain="train_step returns the loss as a Python float (loss.item())")
        observe(f"rank {rank}'s loss from its first train_step", losses[0] if losses else None,
                explain="this rank's F.mse_loss (the mean over its own shard, reduction='mean') before the step, "
                        "not averaged over the ranks")


@pytest.mark.task("train_step")
def test_train_step_matches_full_batch(impl) -> None:
    x, y = _data(20, 3, 4)
    results = _in_ranks(impl, _train_step_scenario, (21, x, y))
    _observe_errors(results, "3 calls of train_step")
    expected = _full_batch_training(21, x, y, _sgd)
    for rank, result in enumerate(results):
        states = result.get("states") or [None] * 3
        observe(f"rank {rank}'s weights after the first train_step (SGD, momentum 0.9)", states[0],
                expect=expected[0], explain=FULL_BATCH + ": average the gradients after backward() and before "
                                                         "optimizer.step()")
    for rank, result in enumerate(results):
        states = result.get("states") or [None] * 3
        observe(f"rank {rank}'s weights after 3 train_steps, the first one right", states[2], expect=expected[2],
                explain="the first step matches but a later one does not: each step must start from zeroed "
                        "gradients (optimizer.zero_grad()), or the previous step's gradients are added in")


# --- train_ddp ------------------------------------------------------------------------------------------

def _ddp_scenario(impl, rank: int, payload) -> dict:
    seed, x, y, optimizer_name = payload
    from torch.nn.parallel import DistributedDataParallel

    wrapped = []
    original_init = DistributedDataParallel.__init__

    def counting_init(self, *args, **kwargs):
        wrapped.append(True)
        original_init(self, *args, **kwargs)

    DistributedDataParallel.__init__ = counting_init
    model = _model(seed)
    batches = [(_shard(x[step], rank), _shard(y[step], rank)) for step in range(x.size(0))]
    make_optimizer = _sgd if optimizer_name == "sgd" else _adam
    state = impl.train_ddp(model, make_optimizer, batches)
    DistributedDataParallel.__init__ = original_init
    plain = dict(state) if isinstance(state, dict) else state
    return {"state": plain, "wrapped": len(wrapped),
            "keys": sorted(state.keys()) if isinstance(state, dict) else None}


@pytest.mark.task("train_ddp")
def test_train_ddp_state_dict_keys(impl) -> None:
    x, y = _data(30, 1, 2)
    results = _in_ranks(impl, _ddp_scenario, (31, x, y, "sgd"))
    _observe_errors(results, "train_ddp")
    observe("keys of the state_dict train_ddp returns (rank 0)", results[0].get("keys"),
            expect=["0.bias", "0.weight", "2.bias", "2.weight"],
            explain="return model.state_dict() (or ddp.module.state_dict()): ddp.state_dict() prefixes every key "
                    "with 'module.', which a plain model cannot load")
    observe("DistributedDataParallel wrappers train_ddp made (rank 0)", results[0].get("wrapped"), expect=1,
            explain="train_ddp wraps the model in torch.nn.parallel.DistributedDataParallel once")


@pytest.mark.task("train_ddp")
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_train_ddp_matches_full_batch(impl, optimizer_name: str) -> None:
    x, y = _data(32, 3, 4)
    results = _in_ranks(impl, _ddp_scenario, (33, x, y, optimizer_name))
    _observe_errors(results, f"train_ddp with {optimizer_name}")
    expected = _full_batch_training(33, x, y, _sgd if optimizer_name == "sgd" else _adam)
    for rank, result in enumerate(results):
        observe(f"rank {rank}'s weights after train_ddp, 3 steps of {optimizer_name}", result.get("state"),
                expect=expected[2], explain=FULL_BATCH + "; DDP averages the gradients during backward, so each "
                                                         "rank's loss is the plain mean over its own shard")
