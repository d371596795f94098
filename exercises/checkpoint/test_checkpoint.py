"""Grading tests for the checkpoint exercise: save_checkpoint, load_checkpoint."""

import os
import tempfile

import pytest
import torch
from torch import nn

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

_g = torch.Generator().manual_seed(2024)
X = torch.randn(32, 6, generator=_g)
Y = torch.randn(32, 1, generator=_g)


def _setup(seed):
    """A model with dropout (so the RNG state matters), Adam (state that matters) and a StepLR."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, epochs):
    model.train()
    for _ in range(epochs):
        for i in range(0, len(X), 8):
            optimizer.zero_grad()
            loss = ((model(X[i : i + 8]) - Y[i : i + 8]) ** 2).mean()
            loss.backward()
            optimizer.step()
        scheduler.step()


@pytest.fixture
def system_tmp(tmp_path, monkeypatch):
    """Redirect the tempfile module's default folder, so a temporary file left there can be seen."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    return folder


def _save(module, path, seed=0, epochs=1, **extra):
    model, optimizer, scheduler = _setup(seed)
    _train(model, optimizer, scheduler, epochs)
    module.save_checkpoint(path, model=model, optimizer=optimizer, epoch=epochs, scheduler=scheduler, **extra)
    return model, optimizer, scheduler


# ------------------------------------------------------------------------------------------- exact resume


@pytest.mark.task("load_checkpoint")
def test_resume_is_bit_identical(submission, folder):
    model, optimizer, scheduler = _setup(0)
    _train(model, optimizer, scheduler, 5)
    uninterrupted = [p.detach().clone() for p in model.parameters()]
    final_lr = optimizer.param_groups[0]["lr"]

    model, optimizer, scheduler = _setup(0)
    _train(model, optimizer, scheduler, 2)
    path = folder / "resume.pt"
    submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, scheduler=scheduler)

    # A new process: other weights, fresh optimizer and scheduler, the global RNG somewhere else.
    model, optimizer, scheduler = _setup(99)
    torch.manual_seed(12345)
    info = submission.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    assert info["epoch"] == 2, f"load_checkpoint must return the saved epoch 2, got {info['epoch']!r}"
    _train(model, optimizer, scheduler, 3)

    assert optimizer.param_groups[0]["lr"] == final_lr, (
        f"after resuming, the learning rate at epoch 5 is {optimizer.param_groups[0]['lr']}, expected "
        f"{final_lr}: is the scheduler's state saved and restored?"
    )
    for i, (got, expected) in enumerate(zip(model.parameters(), uninterrupted, strict=True)):
        assert torch.equal(got, expected), (
            f"parameter {i} after 2 epochs + save/load + 3 epochs differs from 5 uninterrupted epochs: "
            "an exact resume needs the model, the optimizer (Adam's moments), the scheduler and the RNG "
            "state (dropout masks)"
        )


@pytest.mark.task("load_checkpoint")
def test_load_restores_the_rng_state(submission, folder):
    model, optimizer, _ = _setup(0)
    torch.manual_seed(5)
    torch.rand(3)
    path = folder / "rng.pt"
    submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    expected = torch.rand(8)
    torch.manual_seed(77)
    submission.load_checkpoint(path, model=model)
    assert torch.equal(torch.rand(8), expected), (
        "after load_checkpoint, torch.rand gives other numbers than right after the save: save "
        "torch.get_rng_state() and restore it with torch.set_rng_state()"
    )


@pytest.mark.task("save_checkpoint")
def test_save_leaves_the_rng_state_alone(submission, folder):
    model, optimizer, scheduler = _setup(0)
    torch.manual_seed(6)
    state = torch.get_rng_state()
    submission.save_checkpoint(
        folder / "a.pt", model=model, optimizer=optimizer, epoch=0, scheduler=scheduler
    )
    assert torch.equal(torch.get_rng_state(), state), "save_checkpoint changed the global torch RNG state"


@pytest.mark.task("load_checkpoint")
def test_load_restores_model_optimizer_and_scheduler(submission, folder):
    path = folder / "state.pt"
    saved_model, saved_optimizer, saved_scheduler = _save(submission, path, seed=1, epochs=4)
    model, optimizer, scheduler = _setup(2)
    submission.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    for (name, got), expected in zip(
        model.state_dict().items(), saved_model.state_dict().values(), strict=True
    ):
        assert torch.equal(got, expected), f"the model's {name} was not restored"
    got_state, expected_state = optimizer.state_dict(), saved_optimizer.state_dict()
    assert got_state["state"].keys() == expected_state["state"].keys(), (
        "the optimizer's state was not restored"
    )
    for key, state in expected_state["state"].items():
        for name, value in state.items():
            assert torch.equal(got_state["state"][key][name], value), (
                f"the optimizer's {name} was not restored"
            )
    assert optimizer.param_groups[0]["lr"] == saved_optimizer.param_groups[0]["lr"], "the lr was not restored"
    assert scheduler.state_dict() == saved_scheduler.state_dict(), "the scheduler's state was not restored"


@pytest.mark.task("load_checkpoint")
def test_load_without_optimizer_or_scheduler(submission, folder):
    path = folder / "model-only.pt"
    saved_model, _, _ = _save(submission, path, seed=3, epochs=1, note="weights only")
    model, _, _ = _setup(4)
    info = submission.load_checkpoint(path, model=model)
    assert info == {"epoch": 1, "extra": {"note": "weights only"}}, f"unexpected return value {info!r}"
    for got, expected in zip(model.parameters(), saved_model.parameters(), strict=True):
        assert torch.equal(got, expected), "the model's weights were not restored"


@pytest.mark.task("load_checkpoint")
def test_load_returns_epoch_and_extra(submission, folder):
    path = folder / "extra.pt"
    ema = torch.arange(4.0)
    extra = {"best_loss": 0.25, "history": [1.0, 0.5, 0.25], "tag": "run-7", "flags": {"amp": False}, "n": 3}
    _save(submission, path, seed=5, epochs=3, ema=ema, **extra)
    model, optimizer, scheduler = _setup(6)
    info = submission.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    assert isinstance(info, dict) and set(info) == {"epoch", "extra"}, (
        f"load_checkpoint must return a dict with exactly the keys 'epoch' and 'extra', got {info!r}"
    )
    assert info["epoch"] == 3, f"the saved epoch was 3, got {info['epoch']!r}"
    got_extra = dict(info["extra"])
    got_ema = got_extra.pop("ema", None)
    assert got_extra == extra, (
        f"the extra values were not returned as saved: expected {extra}, got {got_extra}"
    )
    assert isinstance(got_ema, torch.Tensor) and torch.equal(got_ema, ema), (
        "the extra tensor 'ema' was not kept"
    )

    _save(submission, path, seed=5, epochs=2)
    info = submission.load_checkpoint(path, model=model)
    assert info == {"epoch": 2, "extra": {}}, (
        f"with no extra values, expected {{'epoch': 2, 'extra': {{}}}}, got {info!r}"
    )


@pytest.mark.task("load_checkpoint")
def test_load_is_strict_about_the_architecture(submission, folder):
    path = folder / "small.pt"
    model = nn.Sequential(nn.Linear(4, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    bigger = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    with pytest.raises(Exception):  # noqa: B017 - any error will do, as long as it is not silent
        submission.load_checkpoint(path, model=bigger)
        pytest.fail(
            "loading a checkpoint of a 1-layer model into a 3-layer model must raise (missing keys "
            "'2.weight', '2.bias'): load the state dict with strict=True"
        )


@pytest.mark.task("load_checkpoint")
def test_load_uses_weights_only_and_map_location(submission, folder, monkeypatch):
    path = folder / "safe.pt"
    _save(submission, path, seed=7, epochs=1)
    loads = []
    original = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    monkeypatch.setattr(torch.serialization, "load", spy)
    locations = []

    def mapper(storage, location):
        locations.append(location)
        return storage

    model, optimizer, scheduler = _setup(8)
    submission.load_checkpoint(
        path, model=model, optimizer=optimizer, scheduler=scheduler, map_location=mapper
    )
    assert loads, "load_checkpoint must read the file with torch.load"
    assert all(kwargs.get("weights_only") is not False for kwargs in loads), (
        "load_checkpoint must call torch.load with weights_only=True: weights_only=False can run "
        "arbitrary code hidden in a checkpoint"
    )
    assert locations, "load_checkpoint must pass map_location on to torch.load"


@pytest.mark.task("save_checkpoint")
def test_saved_file_loads_with_weights_only(submission, folder):
    path = folder / "plain.pt"
    _save(submission, path, seed=9, epochs=2, best_loss=0.5, steps=[1, 2], ema=torch.ones(2))
    try:
        torch.load(path, weights_only=True)
    except Exception as error:  # noqa: BLE001 - report any failure in the learner's words
        pytest.fail(
            "torch.load(path, weights_only=True) cannot read the checkpoint "
            f"({type(error).__name__}: {error}): save only state dicts, tensors and plain Python values",
            pytrace=False,
        )


# -------------------------------------------------------------------------------------------- atomic save


@pytest.mark.task("save_checkpoint")
def test_save_accepts_str_and_replaces_an_older_checkpoint(submission, folder, system_tmp):
    path = folder / "ckpt.pt"
    _save(submission, str(path), seed=10, epochs=1)
    saved_model, _, _ = _save(submission, str(path), seed=11, epochs=2)
    model, _, _ = _setup(12)
    info = submission.load_checkpoint(str(path), model=model)
    assert info["epoch"] == 2, "the second save must replace the first checkpoint at the same path"
    for got, expected in zip(model.parameters(), saved_model.parameters(), strict=True):
        assert torch.equal(got, expected), "the file at path must hold the newest checkpoint"
    assert sorted(os.listdir(folder)) == ["ckpt.pt"], (
        f"after saving, the folder must hold only the checkpoint, found {sorted(os.listdir(folder))}: "
        "remove (or rename) your temporary file"
    )
    assert os.listdir(system_tmp) == [], (
        f"save_checkpoint left files in the temp folder: {os.listdir(system_tmp)}"
    )


def _assert_untouched(folder, path, old_bytes, system_tmp, how):
    assert path.read_bytes() == old_bytes, (
        f"after a failed save ({how}), the previous checkpoint was damaged: write to a temporary file in the "
        "same folder and os.replace() it onto path only once it is complete"
    )
    assert sorted(os.listdir(folder)) == [path.name], (
        f"after a failed save ({how}), files were left in the folder: {sorted(os.listdir(folder))}: "
        "remove the temporary file when saving fails (try/except, then re-raise)"
    )
    assert os.listdir(system_tmp) == [], (
        f"a failed save left files in the temp folder: {os.listdir(system_tmp)}"
    )


@pytest.mark.task("save_checkpoint")
def test_failed_save_keeps_the_old_checkpoint_value_that_cannot_be_saved(submission, folder, system_tmp):
    path = folder / "ckpt.pt"
    _save(submission, path, seed=13, epochs=1)
    old_bytes = path.read_bytes()
    model, optimizer, scheduler = _setup(14)
    with pytest.raises(Exception):  # noqa: B017 - pickle raises PicklingError, AttributeError or TypeError
        submission.save_checkpoint(
            path, model=model, optimizer=optimizer, epoch=5, scheduler=scheduler, callback=lambda: None
        )
        pytest.fail("saving an extra value that cannot be pickled (a lambda) must raise, not fail silently")
    _assert_untouched(folder, path, old_bytes, system_tmp, "an extra value that cannot be pickled")


@pytest.mark.task("save_checkpoint")
def test_failed_save_keeps_the_old_checkpoint_disk_full(submission, folder, system_tmp, monkeypatch):
    path = folder / "ckpt.pt"
    _save(submission, path, seed=15, epochs=1)
    old_bytes = path.read_bytes()

    def failing_save(obj, f, *args, **kwargs):
        # Write a part of the file, then fail like a full disk would.
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as handle:
                handle.write(b"PK\x03\x04 half a checkpoint")
        else:
            f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    monkeypatch.setattr(torch.serialization, "save", failing_save)
    model, optimizer, scheduler = _setup(16)
    with pytest.raises(OSError):
        submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=5, scheduler=scheduler)
        pytest.fail(
            "when torch.save fails (disk full), save_checkpoint must let the OSError reach the caller"
        )
    _assert_untouched(folder, path, old_bytes, system_tmp, "torch.save raised OSError half-way")


@pytest.mark.task("save_checkpoint")
def test_failed_first_save_leaves_nothing(submission, folder, system_tmp):
    _save(submission, folder / "other.pt", seed=17, epochs=1)  # a working save, in the same folder
    path = folder / "first.pt"
    model, optimizer, _ = _setup(17)
    with pytest.raises(Exception):  # noqa: B017 - pickle raises PicklingError, AttributeError or TypeError
        submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0, callback=lambda: None)
        pytest.fail("saving an extra value that cannot be pickled (a lambda) must raise, not fail silently")
    assert os.listdir(folder) == ["other.pt"], (
        "a failed save with no previous checkpoint at path must leave no file behind, "
        f"found {os.listdir(folder)}"
    )
    assert os.listdir(system_tmp) == [], (
        f"a failed save left files in the temp folder: {os.listdir(system_tmp)}"
    )


# ------------------------------------------------------------------------------------------- real CUDA only


@needs_cuda
@pytest.mark.task("load_checkpoint")
def test_cuda_rng_state_is_restored(submission, folder):
    model, optimizer, _ = _setup(18)
    torch.cuda.manual_seed_all(3)
    path = folder / "cuda-rng.pt"
    submission.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    expected = torch.rand(16, device="cuda")
    torch.cuda.manual_seed_all(9)
    submission.load_checkpoint(path, model=model)
    assert torch.equal(torch.rand(16, device="cuda"), expected), (
        "the CUDA RNG state was not restored: save torch.cuda.get_rng_state_all() and restore it with "
        "torch.cuda.set_rng_state_all()"
    )
