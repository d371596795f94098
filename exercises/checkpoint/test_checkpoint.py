"""Grading tests for the checkpoint exercise: save_checkpoint, load_checkpoint.

The specific tests come first (what the file holds, how it is read, the RNG state, each state dict, the
atomic save); the end-to-end resume comes last, so the first failing message names the missing piece.
"""

import os
import tempfile

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

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


def _listing(folder):
    """The folder's files, sorted, as one string (so a message names them)."""
    names = sorted(os.listdir(folder))
    return ", ".join(names) if names else "(empty)"


def _outcome(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - what it raised is the observation
        return f"it raised {type(error).__name__}: {str(error)[:300]}"
    return "it loaded"


# ------------------------------------------------------------------------------------ what the file holds


@pytest.mark.task("save_checkpoint")
def test_saved_file_loads_with_weights_only(impl, folder):
    path = folder / "plain.pt"
    _save(impl, path, seed=9, epochs=2, best_loss=0.5, steps=[1, 2], ema=torch.ones(2))
    observe("torch.load(path, weights_only=True) on the saved checkpoint",
            _outcome(lambda: torch.load(path, weights_only=True)), expect="it loaded",
            explain="the checkpoint must load with torch.load(path, weights_only=True): save only state dicts, "
                    "tensors and plain Python values")


@pytest.mark.task("load_checkpoint")
def test_load_uses_weights_only_and_map_location(impl, folder, monkeypatch):
    path = folder / "safe.pt"
    _save(impl, path, seed=7, epochs=1)
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
    impl.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, map_location=mapper)
    observe("load_checkpoint read the file with torch.load", bool(loads), expect=True,
            explain="load_checkpoint reads the file with torch.load")
    observe("no torch.load call of load_checkpoint passed weights_only=False",
            all(kwargs.get("weights_only") is not False for kwargs in loads), expect=True,
            explain="call torch.load with weights_only=True: weights_only=False can run arbitrary code hidden in a "
                    "checkpoint")
    observe("the map_location function given to load_checkpoint was called by torch.load", bool(locations),
            expect=True, explain="load_checkpoint passes map_location on to torch.load")


@pytest.mark.task("load_checkpoint")
def test_load_is_strict_about_the_architecture(impl, folder):
    path = folder / "small.pt"
    model = nn.Sequential(nn.Linear(4, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    bigger = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    with expect_raises("load_checkpoint of a 1-layer model's checkpoint into a 3-layer model", Exception,
                       explain="the checkpoint lacks the keys '2.weight' and '2.bias': the model is loaded strictly "
                               "(load_state_dict with strict=True) and this raises"):
        impl.load_checkpoint(path, model=bigger)


# ------------------------------------------------------------------------------------------- the RNG state


@pytest.mark.task("load_checkpoint")
def test_load_restores_the_rng_state(impl, folder):
    model, optimizer, _ = _setup(0)
    torch.manual_seed(5)
    torch.rand(3)
    path = folder / "rng.pt"
    impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    expected = torch.rand(8)
    torch.manual_seed(77)
    impl.load_checkpoint(path, model=model)
    observe("torch.rand(8) right after load_checkpoint (the global RNG reseeded in between)", torch.rand(8),
            exact=True, expect=expected,
            explain="load_checkpoint restores the torch RNG state saved with the checkpoint (torch.get_rng_state() "
                    "at save, torch.set_rng_state() at load): the numbers are those drawn right after the save")


@pytest.mark.task("save_checkpoint")
def test_save_leaves_the_rng_state_alone(impl, folder):
    model, optimizer, scheduler = _setup(0)
    torch.manual_seed(6)
    state = torch.get_rng_state()
    impl.save_checkpoint(folder / "a.pt", model=model, optimizer=optimizer, epoch=0, scheduler=scheduler)
    observe("the global torch RNG state after save_checkpoint", torch.get_rng_state(), exact=True, expect=state,
            explain="save_checkpoint does not change the global torch RNG state")


# ------------------------------------------------------------------------------------------ the state dicts


@pytest.mark.task("load_checkpoint")
def test_load_restores_model_optimizer_and_scheduler(impl, folder):
    path = folder / "state.pt"
    _save(impl, path, seed=1, epochs=4)
    model, optimizer, scheduler = _setup(2)
    impl.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    where = "after load_checkpoint of a checkpoint saved after 4 epochs"
    observe(f"the model's state_dict {where}", model.state_dict(), exact=True,
            explain="load_checkpoint restores the model's weights")
    state = optimizer.state_dict()
    observe(f"the optimizer's state (Adam's moments and step counts) {where}", state["state"], exact=True,
            explain="load_checkpoint restores the optimizer's state when an optimizer is given")
    observe(f"the optimizer's param_groups {where}", state["param_groups"],
            explain="load_checkpoint restores the optimizer's param_groups (the current learning rate included)")
    observe(f"the scheduler's state_dict {where}", scheduler.state_dict(),
            explain="load_checkpoint restores the scheduler's state when a scheduler is given")


@pytest.mark.task("load_checkpoint")
def test_load_without_optimizer_or_scheduler(impl, folder):
    path = folder / "model-only.pt"
    _save(impl, path, seed=3, epochs=1, note="weights only")
    model, _, _ = _setup(4)
    info = impl.load_checkpoint(path, model=model)
    observe("load_checkpoint(path, model=model) of a checkpoint saved with epoch=1, note='weights only'", info,
            expect={"epoch": 1, "extra": {"note": "weights only"}},
            explain="load_checkpoint returns {'epoch': the saved epoch, 'extra': the dict of extra values}")
    observe("the model's parameters after load_checkpoint without optimizer or scheduler",
            list(model.parameters()), exact=True, explain="the model's weights are restored")


@pytest.mark.task("load_checkpoint")
def test_load_returns_epoch_and_extra(impl, folder):
    path = folder / "extra.pt"
    extra = {"best_loss": 0.25, "history": [1.0, 0.5, 0.25], "tag": "run-7", "flags": {"amp": False}, "n": 3}
    _save(impl, path, seed=5, epochs=3, ema=torch.arange(4.0), **extra)
    model, optimizer, scheduler = _setup(6)
    info = impl.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    observe("load_checkpoint of a checkpoint saved with epoch=3 and extra values best_loss, history, tag, flags, "
            "n and a tensor ema", info, exact=True,
            expect={"epoch": 3, "extra": {"ema": torch.arange(4.0), **extra}},
            explain="load_checkpoint returns exactly {'epoch': the saved epoch, 'extra': the extra values as saved}")

    _save(impl, path, seed=5, epochs=2)
    observe("load_checkpoint of a checkpoint saved with epoch=2 and no extra values",
            impl.load_checkpoint(path, model=model), expect={"epoch": 2, "extra": {}},
            explain="with no extra values, 'extra' is {}")


# -------------------------------------------------------------------------------------------- atomic save


@pytest.mark.task("save_checkpoint")
def test_save_accepts_str_and_replaces_an_older_checkpoint(impl, folder, system_tmp):
    path = folder / "ckpt.pt"
    _save(impl, str(path), seed=10, epochs=1)
    _save(impl, str(path), seed=11, epochs=2)
    model, _, _ = _setup(12)
    info = impl.load_checkpoint(str(path), model=model)
    observe("the epoch loaded after saving epoch 1 then epoch 2 at the same path (a str)", info["epoch"], expect=2,
            explain="a save replaces the older checkpoint at the same path")
    observe("the model's parameters loaded from that path", list(model.parameters()), exact=True,
            explain="the file at path holds the newest checkpoint")
    observe("the checkpoint folder after two saves", _listing(folder), expect="ckpt.pt",
            explain="after saving, the folder holds only the checkpoint: no temporary file is left behind")
    observe("the system temporary folder after two saves", _listing(system_tmp), expect="(empty)",
            explain="save_checkpoint leaves no file in the system's temporary folder")


def _observe_untouched(folder, path, old_bytes, system_tmp, how):
    observe(f"the previous checkpoint's bytes are unchanged after a failed save ({how})",
            path.read_bytes() == old_bytes, expect=True,
            explain="a failed save leaves the file at path byte for byte as it was: write a temporary file in the "
                    "same folder and os.replace() it onto path only once it is complete")
    observe(f"the checkpoint folder after a failed save ({how})", _listing(folder), expect=path.name,
            explain="a failed save leaves no temporary file behind (remove it, then re-raise)")
    observe(f"the system temporary folder after a failed save ({how})", _listing(system_tmp), expect="(empty)",
            explain="a failed save leaves no file in the system's temporary folder")


@pytest.mark.task("save_checkpoint")
def test_failed_save_keeps_the_old_checkpoint_value_that_cannot_be_saved(impl, folder, system_tmp):
    path = folder / "ckpt.pt"
    _save(impl, path, seed=13, epochs=1)
    old_bytes = path.read_bytes()
    model, optimizer, scheduler = _setup(14)
    # pickle raises PicklingError, AttributeError or TypeError: any exception will do.
    with expect_raises("save_checkpoint with an extra value that cannot be saved (a lambda)", Exception,
                       explain="a save that fails lets its exception reach the caller"):
        impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=5, scheduler=scheduler,
                             callback=lambda: None)
    _observe_untouched(folder, path, old_bytes, system_tmp, "an extra value that cannot be pickled")


@pytest.mark.task("save_checkpoint")
def test_failed_save_keeps_the_old_checkpoint_disk_full(impl, folder, system_tmp, monkeypatch):
    path = folder / "ckpt.pt"
    _save(impl, path, seed=15, epochs=1)
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
    with expect_raises("save_checkpoint when torch.save raises OSError half-way (disk full)", OSError,
                       explain="when torch.save fails, save_checkpoint lets the OSError reach the caller"):
        impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=5, scheduler=scheduler)
    _observe_untouched(folder, path, old_bytes, system_tmp, "torch.save raised OSError half-way")


@pytest.mark.task("save_checkpoint")
def test_failed_first_save_leaves_nothing(impl, folder, system_tmp):
    _save(impl, folder / "other.pt", seed=17, epochs=1)  # a working save, in the same folder
    path = folder / "first.pt"
    model, optimizer, _ = _setup(17)
    with expect_raises("save_checkpoint to a new path with an extra value that cannot be saved (a lambda)",
                       Exception, explain="a save that fails lets its exception reach the caller"):
        impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0, callback=lambda: None)
    observe("the checkpoint folder (which held other.pt) after a failed first save to first.pt", _listing(folder),
            expect="other.pt", explain="a failed save with no previous checkpoint at path leaves no file behind")
    observe("the system temporary folder after a failed first save", _listing(system_tmp), expect="(empty)",
            explain="a failed save leaves no file in the system's temporary folder")


# ------------------------------------------------------------------------------------------- exact resume


@pytest.mark.task("load_checkpoint")
def test_resume_is_bit_identical(impl, folder):
    model, optimizer, scheduler = _setup(0)
    _train(model, optimizer, scheduler, 5)
    uninterrupted = [p.detach().clone() for p in model.parameters()]
    final_lr = optimizer.param_groups[0]["lr"]

    model, optimizer, scheduler = _setup(0)
    _train(model, optimizer, scheduler, 2)
    path = folder / "resume.pt"
    impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, scheduler=scheduler)

    # A new process: other weights, fresh optimizer and scheduler, the global RNG somewhere else.
    model, optimizer, scheduler = _setup(99)
    torch.manual_seed(12345)
    info = impl.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    observe("the epoch load_checkpoint returns for a checkpoint saved after 2 epochs", info["epoch"], expect=2,
            explain="load_checkpoint returns the saved epoch")
    _train(model, optimizer, scheduler, 3)
    observe("the learning rate after 2 epochs + save/load + 3 epochs", optimizer.param_groups[0]["lr"],
            expect=final_lr, explain="the same learning rate as after 5 uninterrupted epochs")
    observe("the parameters after 2 epochs + save/load + 3 epochs", list(model.parameters()), exact=True,
            expect=uninterrupted,
            explain="bit-identical to 5 uninterrupted epochs: an exact resume restores the model, the optimizer, "
                    "the scheduler and the RNG state")


# ------------------------------------------------------------------------------------------- real CUDA only


@pytest.mark.cuda
@pytest.mark.task("load_checkpoint")
def test_cuda_rng_state_is_restored(impl, folder):
    model, optimizer, _ = _setup(18)
    torch.cuda.manual_seed_all(3)
    path = folder / "cuda-rng.pt"
    impl.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    expected = torch.rand(16, device="cuda")
    torch.cuda.manual_seed_all(9)
    impl.load_checkpoint(path, model=model)
    observe("torch.rand(16, device='cuda') right after load_checkpoint", torch.rand(16, device="cuda"), exact=True,
            expect=expected,
            explain="the CUDA RNG states are saved (torch.cuda.get_rng_state_all()) and restored "
                    "(torch.cuda.set_rng_state_all()): the numbers are those drawn right after the save")
