"""The local folder backend: each object is the plain file ``ROOT/<key>``, browsable and syncable by any tool.

Requirements
    Linux, and a filesystem with user extended attributes (ext4, XFS, Btrfs, tmpfs on Linux 6.6+; some need
    the ``user_xattr`` mount option). The backend checks at construction and raises ``ConfigError`` if not.

Metadata
    Etag and attributes live in one extended attribute, ``user.satchel``, of the data file itself (compact
    JSON, see ``_meta``). The attribute travels with the inode, so renaming a new file into place changes
    bytes and metadata in one atomic step, with no sidecar file. Each write mints a random etag. Files put in
    the folder by other programs have no attribute: their etag is derived from ``stat`` (inode, mtime, size)
    and their attributes are empty; so are files edited in place after satchel wrote them.

Atomicity and durability
    A put writes a temp file in ``ROOT/.satchel/staging/`` (same filesystem), stores the metadata on it,
    fsyncs it, renames it onto the key and fsyncs the directory (``fsync=False`` skips both fsyncs). Readers
    see the old object or the new one; on any failure, a full disk included, the temp file is removed and the
    old object is untouched. ``mode=CREATE`` uses ``link()``, which fails atomically if the key exists.
    Every write, conditional or not, holds an ``flock`` on the key's directory around its final step, so
    ``if_match`` writes and deletes never lose an update, across threads and processes (on network filesystems
    this is as good as the server's locking).

Concurrency
    The backend keeps no state between calls (each call opens and closes its own descriptors), so one
    instance may serve many threads, and many processes of one machine may share a folder. ``close`` has
    nothing to release.

Reserved names
    ``ROOT/.satchel/`` holds temp files and multipart parts; keys whose first segment is ``.satchel`` raise
    ``InvalidPath`` and listings never show it. Leftovers of crashed writers are removed when the folder is
    next opened (see ``_cleanup``).

Files and prefixes
    A filesystem cannot hold both ``a`` and ``a/b``: writing one when the other exists raises ``InvalidPath``
    (``Capabilities.file_and_prefix`` is False). Deletes remove directories they leave empty.

Symlinks
    No key reaches outside the root: every path is walked with directory descriptors and ``O_NOFOLLOW``, and
    symlinks inside the root are never followed. Reading through a symlink (get, copy's source, rename's
    source) raises ``NotFound``, as a symlink is not an object; writing or deleting through or onto one raises
    ``PermissionDenied``. Listings skip symlinks and special files.

Keys
    Keys are stored exactly as given (no Unicode normalization): a key is its file's path, byte for byte, in
    UTF-8. A segment longer than the filesystem allows (255 bytes on most) raises ``InvalidPath``. On a
    case-insensitive filesystem or directory, keys differing only in case would be one file: not supported.
"""

from ._backend import LocalBackend
from ._config import LocalConfig

__all__ = ["LocalBackend", "LocalConfig"]
