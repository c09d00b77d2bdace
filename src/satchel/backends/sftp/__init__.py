"""The SFTP backend: each object is the plain file ``ROOT/<key>`` in a folder on an SSH server.

Engine
    paramiko (pure Python, synchronous like the core, with the OpenSSH extensions we need reachable:
    ``posix-rename``, ``fsync@openssh.com``, ``copy-data``). Sessions are pooled (see ``_connection``).

Authentication
    Key files, an ssh-agent, or a password. The server's host key is checked against a known_hosts file
    (default ``~/.ssh/known_hosts``); an unknown or different key raises ``Unauthenticated`` naming the
    host. ``insecure_skip_host_key_check=True`` turns the check off explicitly, with a logged warning.

Atomicity
    A put streams into a temp file in ``ROOT/.satchel/staging/`` and renames it onto the key with
    ``posix-rename@openssh.com`` (an atomic replace). ``mode=CREATE`` renames with plain SFTP ``rename``,
    which OpenSSH's server performs with ``link()``: it fails if the key exists, atomically (on
    filesystems with hard links; on others OpenSSH falls back to a check followed by a rename).

Metadata
    SFTP has no extended attributes, so attributes and the etag live in a sidecar record
    ``ROOT/.satchel/meta/<sha256 of key>.json`` that holds the current version and the one before it, each
    with the fingerprint (size, mtime) of its data file. Writers of a key take its lock (a file created
    exclusively in ``.satchel/locks``), set the new file's mtime so its fingerprint differs from the file it
    replaces, rewrite the record, and only then rename the data into place. Readers read the record, open
    the data, read the record again: if it did not change, the open file is the record's current or
    previous version, told apart by fingerprint (see ``_reader``). So a reader never pairs data with another
    version's metadata, and a crash at any step leaves the old object with its old metadata or the new one
    with the new metadata. A file put on the server by another program (or edited in place) matches no
    fingerprint: its etag is derived from its size and mtime, and it has no attributes.

    A lock left by a crashed writer is taken over after 15 seconds; a writer stalled longer than that
    inside its final step (a few requests) could overlap another, and the worst outcome is an object
    described as a foreign file. That is why the lock is not offered for compare-and-swap:
    ``conditional_update`` and ``conditional_delete`` are False (the Store raises ``NotSupported``).

Durability
    With ``fsync`` (the default) each temp file is flushed with ``fsync@openssh.com`` where the server
    offers it. SFTP cannot fsync a directory, so a rename is as durable as the server's filesystem makes it.

Copies and multipart
    Copies and multipart completion concatenate on the server with the ``copy-data`` extension (OpenSSH 9.0
    and later) and stream through the client otherwise. Parts are files under ``.satchel/multipart/``.

Reserved names and leftovers
    Keys whose first segment is ``.satchel`` raise ``InvalidPath``; listings never show it. Temp files and
    upload folders of dead writers on this host, and any untouched for 24 hours, are removed at open.

Symlinks
    No key reaches outside the root: before each operation the server resolves the key's path
    (``realpath``) and the operation goes on only if no symlink is on it. Reads through a symlink raise
    ``NotFound``; writes and deletes raise ``PermissionDenied``; listings skip symlinks. SFTP has no
    ``O_NOFOLLOW``: a symlink planted on the server between the check and the request is not caught.

Files and prefixes
    As on the local folder, ``a`` and ``a/b`` cannot both be objects (``file_and_prefix`` is False).
    Deletes remove the folders they leave empty. Keys are stored exactly as given, as UTF-8 file names.
"""

from ._backend import SFTPBackend
from ._config import SFTPConfig

__all__ = ["SFTPBackend", "SFTPConfig"]
