"""Backends over obstore: S3 and S3-compatible services here, Azure Blob beside it.

Why obstore
    obstore is the Python face of the Rust ``object_store`` crate (the Apache Arrow project's store layer). It
    streams bodies both ways, runs native multipart uploads with several parts in flight, signs URLs natively
    (SigV4 presign, Azure SAS), maps conditional requests to one small vocabulary, and does its HTTP work
    in Rust: measured by ``bench/remote.py`` it spends roughly a seventh of boto3's client CPU per small request.
    One engine for two clouds also means one translation of errors and one set of quirks.

Layout
    ``_core.ObstoreBackend`` implements the Backend contract over any obstore store object; ``s3`` (and
    ``azure``) only build that store from a config dataclass and declare honest capabilities.
    ``_errors`` is the one place obstore's exceptions become satchel's; ``_attributes`` maps satchel's attributes
    to object metadata; ``_lister`` gives obstore's directory-style listings satchel's string prefixes;
    ``_multipart`` stages out-of-order parts.
"""

from satchel.backends.obstore._core import ObstoreBackend

__all__ = ["ObstoreBackend"]
