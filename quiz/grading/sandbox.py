"""The sandbox a grading run's code runs in, set up from inside a freshly forked child (Linux: namespaces).

The zygote forks a child and calls ``start`` there. On Linux the child enters new user, mount, network,
PID, IPC and UTS namespaces; the zygote (still outside) writes its uid/gid map, mapping it to an
unprivileged user when torchprep runs as root. The child then forks the worker, PID 1 of the new PID
namespace, and waits for it: when the worker ends, the kernel kills every process left in the namespace,
however it was started (plain, setsid, double fork), and each of the two has a parent-death signal, so
killing the waiter from outside ends the whole tree.

The worker, before any submission code runs:
- sees a fresh /proc of its own namespace and no network but a loopback interface that is up;
- sees every file read-only; the folders that hold answers (the reference solutions, torchprep's home
  with its cache of reference streams, the other submissions of a batch) and the user's home are hidden
  behind empty tmpfs mounts, except the folders Python imports from;
- writes only to a size-capped tmpfs at /tmp (its working folder is /tmp/work, with copies of its inputs),
  a capped /dev/shm, and the two files the judge handed it (the stream and the log, capped by
  RLIMIT_FSIZE);
- has no capabilities left (so it cannot undo a mount), no_new_privs, and limits on memory (RLIMIT_AS),
  file size, processes and core dumps.

Where namespaces are refused (some containers, other systems), ``start`` falls back to a new session with
the same rlimits and says so: the judge then also sweeps every process that carries the run's token.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import socket
import stat
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
MOUNT_ATTR_RDONLY, AT_RECURSIVE = 0x1, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and arm64
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
NOBODY = 65534
TOKEN_VARIABLE = "TORCHPREP_GRADING_RUN"

NAMESPACES = "namespaces (user, PID, network, mount): read-only files, answers hidden, no network"
FALLBACK = "process session and limits only (namespaces unavailable here): no file hiding, no network cut"


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 6 * 2**30
    file_bytes: int = 256 * 2**20  # one file, the stream and the log included
    tmp_bytes: int = 512 * 2**20  # all of /tmp together
    processes: int = 256


@dataclass(frozen=True)
class Plan:
    """What one run may see: its inputs, what to hide and what must stay importable."""

    work: str  # a folder outside holding the run's inputs: copied into /tmp/work inside
    hide: tuple[str, ...] = ()  # folders hidden behind an empty tmpfs
    secrets: tuple[str, ...] = ()  # hidden even where they lie inside a folder Python imports from
    keep: tuple[str, ...] = field(default_factory=lambda: tuple(_import_paths()))
    limits: Limits = Limits()
    token: str = ""


def _import_paths() -> list[str]:
    found = []
    # pyvenv.cfg too: a virtual environment's root made by mktemp (mode 700) is rebuilt as a skeleton of its kept
    # paths, and a fresh `sys.executable` without that file would not know it is in the environment (no torch).
    venv_config = os.path.join(sys.prefix, "pyvenv.cfg")
    for entry in [sys.prefix, venv_config, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
                  *sys.path]:
        if entry and os.path.exists(entry):
            path = os.path.realpath(entry)
            if path not in found:
                found.append(path)
    return found


_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    _check(_c().mount(source and source.encode(), target.encode(), kind and kind.encode(), ctypes.c_ulong(flags),
                      data and data.encode()), f"mount {target}")


def supported() -> bool:
    return sys.platform.startswith("linux")


# --- in the child, before the worker exists -----------------------------------------------------------

def unshare_namespaces() -> bool:
    """Enter new namespaces (in a forked, single-threaded child). False when the system refuses."""
    if not supported():
        return False
    result = _c().unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)
    return result == 0


def write_id_maps(pid: int) -> None:
    """From outside (the zygote): map the child's root to nobody when we are root, else to our own uid."""
    uid, gid = os.getuid(), os.getgid()
    outside_uid, outside_gid = (NOBODY, NOBODY) if uid == 0 else (uid, gid)
    if uid != 0:
        with open(f"/proc/{pid}/setgroups", "w") as handle:
            handle.write("deny")
    with open(f"/proc/{pid}/uid_map", "w") as handle:
        handle.write(f"0 {outside_uid} 1")
    with open(f"/proc/{pid}/gid_map", "w") as handle:
        handle.write(f"0 {outside_gid} 1")


def become_mapped_root() -> None:
    try:
        os.setgroups([])
    except OSError:
        pass  # refused when setgroups was denied: then there are no groups to drop
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def die_with_parent() -> None:
    if supported():
        _c().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# --- in the worker (PID 1 of the namespace) -----------------------------------------------------------

def _open_path(path: str) -> int | None:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None


def _mkdirs(path: str) -> None:
    os.makedirs(path, exist_ok=True)


def _bind_from_fd(fd: int, target: str, is_dir: bool) -> None:
    if is_dir:
        _mkdirs(target)
    else:
        _mkdirs(os.path.dirname(target))
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _hide(folder: str) -> None:
    _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        import fcntl

        request = struct.pack("16sH14s", b"lo", 0, b"\x00" * 14)
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b"\x00" * 14))


def _set_mount_attributes(path: str, *, set_: int = 0, clear: int = 0, recursive: bool = False) -> None:
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attributes = struct.pack("QQQQ", set_, clear, 0, 0)
    buffer = ctypes.create_string_buffer(attributes, len(attributes))
    result = _c().syscall(SYS_MOUNT_SETATTR, -100, path.encode(), AT_RECURSIVE if recursive else 0, buffer,
                          len(attributes))
    _check(result, f"mount_setattr {path}")


def _read_only_everywhere() -> None:
    _set_mount_attributes("/", set_=MOUNT_ATTR_RDONLY, recursive=True)


def _drop_capabilities() -> None:
    libc = _c()
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    _check(libc.syscall(126 if os.uname().machine == "x86_64" else 91, header, data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


@dataclass
class Prepared:
    """What the worker needs from outside, taken while the child still has the judge's rights."""

    inputs: dict[str, bytes]
    keep: list[tuple[str, int, bool]]  # (path, O_PATH descriptor, is a folder)
    closed: list[str]  # folders above a kept path that others may not enter (/root): hidden, kept paths rebound


def _closed_ancestors(path: str) -> list[str]:
    found = []
    parent = os.path.dirname(path)
    while parent and parent != "/":
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                found.append(parent)
        except OSError:
            pass
        parent = os.path.dirname(parent)
    return found


def prepare(plan: Plan) -> Prepared:
    inputs = {}
    for entry in os.scandir(plan.work):
        if entry.is_file(follow_symlinks=False):
            with open(entry.path, "rb") as handle:
                inputs[entry.name] = handle.read()
    keep, closed = [], []
    for path in plan.keep:
        fd = _open_path(path)
        if fd is not None:
            keep.append((path, fd, os.path.isdir(path)))
            closed += [folder for folder in _closed_ancestors(path) if folder not in closed]
    # A kept folder that others may not enter (a virtual environment made by mktemp, mode 700) is not bound
    # whole, since the sandbox's user could not enter it either: it becomes an empty skeleton, and the kept
    # paths inside it (its bin and site-packages) come back one by one.
    for path, fd, _ in keep:
        if path in closed:
            os.close(fd)
    keep = [entry for entry in keep if entry[0] not in closed]
    return Prepared(inputs, keep, closed)


def _rebind_kept(keep: list[tuple[str, int, bool]], covered: list[str]) -> None:
    """Bind back every kept path that lies below one of the ``covered`` folders."""
    for path, fd, is_dir in keep:
        if any(_under(path, folder) for folder in covered):
            _bind_from_fd(fd, path, is_dir)


def isolate_worker(plan: Plan, prepared: Prepared) -> str:
    """In PID 1 of the new namespaces: hide, freeze and cap the world, then return the working folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # some containers refuse a fresh /proc; the old one still shows this process
    hidden = [folder for folder in [*plan.hide, *prepared.closed] if os.path.isdir(folder)]
    # Outer folders first, so an inner one is hidden inside the outer tmpfs (where it exists again only
    # if a kept path needs it).
    hidden.sort(key=len)
    # A fresh, capped /tmp first, like a hidden folder: what torchprep runs from below /tmp (CI's mktemp
    # virtual environment, a clone in /tmp) comes back with the kept paths below.
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={plan.limits.tmp_bytes},mode=1777")
    for folder in hidden:
        if os.path.isdir(folder):  # not when an outer hidden folder (or /tmp) already took it away
            _hide(folder)
    _rebind_kept(prepared.keep, [*hidden, "/tmp"])
    # What that brought back below /tmp may hold a folder to hide (a workspace inside a clone in /tmp).
    again = [folder for folder in hidden if _under(folder, "/tmp") and os.path.isdir(folder)]
    for folder in again:
        if os.path.isdir(folder):  # an inner one (ws/mock) is gone once its outer one (ws) is hidden
            _hide(folder)
    _rebind_kept(prepared.keep, again)
    for folder in plan.secrets:
        if os.path.isdir(folder):
            _hide(folder)
    try:
        _loopback_up()
    except OSError:
        pass  # no loopback to bring up: code that needs it fails with its own error
    # Everything read-only, mounts inside included. Device files stay usable (/dev/null takes writes on a
    # read-only mount); regular files and folders cannot be created or changed anywhere but below.
    _read_only_everywhere()
    _set_mount_attributes("/tmp", clear=MOUNT_ATTR_RDONLY)  # the fresh /tmp alone stays writable (not below)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={plan.limits.tmp_bytes // 2},mode=1777")
    destination = "/tmp/work"
    _mkdirs(destination)
    for name, data in prepared.inputs.items():
        with open(os.path.join(destination, name), "wb") as out:
            out.write(data)
    for _, fd, _ in prepared.keep:
        os.close(fd)
    _drop_capabilities()
    return destination




def apply_limits(limits: Limits) -> None:
    for kind, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_FSIZE, limits.file_bytes),
                        (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, limits.processes)):
        try:
            soft, hard = resource.getrlimit(kind)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (cap, cap))
        except (ValueError, OSError):
            pass


def minimal_environment(home: str, token: str) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "CUDA_VISIBLE_DEVICES", "TORCH_HOME", "PYTHONHASHSEED")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update(HOME=home, TMPDIR="/tmp" if home.startswith("/tmp/") else home,
                       PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
                       # Only our plugin: pytest plugins installed beside torchprep must not change grading.
                       PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **{TOKEN_VARIABLE: token})
    return environment


def processes_with_token(token: str, prefix: bool = False) -> list[int]:
    """Every process whose environment carries ``token`` (or a token starting with it): the fallback's sweep.

    Processes inside a PID namespace are found too, but there they die with the namespace anyway.
    """
    found = []
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    for entry in Path("/proc").iterdir() if token and Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\x00")
            if any(v == needle or (prefix and v.startswith(needle)) for v in variables):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
