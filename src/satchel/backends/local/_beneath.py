"""One-syscall containment: ``openat2`` with ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS``.

The kernel resolves the whole key below the root's descriptor and refuses any symlink or escape on the way, so
a read needs one ``open`` instead of one per directory, and so does the existing parent directory of a write.
Python's ``os`` module has no ``openat2``; it is called through ``syscall(2)``. Where the kernel or a seccomp
filter lacks it (Linux < 5.6, some sandboxes), or on other architectures whose syscall number we do not know,
:class:`BeneathOpener` reports itself unavailable and the backend walks directory descriptors instead
(:mod:`._dirs`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import weakref
from collections.abc import Callable

__all__ = ["BeneathOpener"]

# openat2 has the same number on every architecture that got it after the syscall table unification.
_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_UNAVAILABLE = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


def _load_syscall() -> Callable[..., int] | None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64", "riscv64", "ppc64le"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    call = libc.syscall
    # No argtypes: every argument is already an int, bytes or a byref, and the per-call conversion that
    # argtypes adds costs more than the system call itself.
    call.restype = ctypes.c_long
    return call


_SYSCALL = _load_syscall()
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
_HOW = _OpenHow(_READ_FLAGS, 0, _RESOLVE)
_HOW_REF = ctypes.byref(_HOW)
_DIR_HOW = _OpenHow(_DIR_FLAGS, 0, _RESOLVE)
_DIR_HOW_REF = ctypes.byref(_DIR_HOW)
_HOW_SIZE = ctypes.sizeof(_HOW)


class BeneathOpener:
    """Opens files for reading strictly below one directory, holding that directory open while it lives.

    The directory descriptor is released when the opener is garbage-collected, not by an explicit close: a
    thread still reading could otherwise use a descriptor number the process has meanwhile reused.
    """

    def __init__(self, root: str) -> None:
        self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, self._root_fd)
        self.available = _SYSCALL is not None and self._probe()

    @property
    def root_fd(self) -> int:
        """The descriptor of the root, valid while this opener lives; never close it."""
        return self._root_fd

    def _probe(self) -> bool:
        try:
            os.close(self.open("."))
        except OSError as exc:
            if exc.errno in _UNAVAILABLE:
                return False
            raise
        return True

    def open(self, relative: str) -> int:
        """Open ``relative`` (a key) below the root for reading and return the descriptor.

        Raises:
            OSError: ``ELOOP`` for a symlink on the way, ``EXDEV`` for an escape, ``ENOENT``/``ENOTDIR`` for a
                missing path, or ``ENOSYS`` where openat2 does not exist.
        """
        return self._openat2(relative, _HOW_REF)

    def open_dir(self, relative: str) -> int:
        """Open the existing directory ``relative`` below the root and return the descriptor.

        Raises:
            OSError: as :meth:`open`, and ``ENOTDIR`` when ``relative`` is not a directory.
        """
        return self._openat2(relative, _DIR_HOW_REF)

    def _openat2(self, relative: str, how: object) -> int:
        assert _SYSCALL is not None
        fd: int = _SYSCALL(_SYS_OPENAT2, self._root_fd, relative.encode(), how, _HOW_SIZE)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return fd
