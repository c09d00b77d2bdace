"""The Google Cloud Storage backend: one bucket, through Google's official SDK (google-cloud-storage).

Why the official SDK, not obstore
    obstore (used for S3 and Azure) speaks GCS's XML API. google-cloud-storage speaks the JSON API, which
    serves satchel's contract better: its write preconditions (``ifGenerationMatch``,
    ``ifMetagenerationMatch``) make conditional create, update, delete and copy-if-absent exact; ``compose``
    builds multipart uploads from parts uploaded in any order; ``patch`` updates metadata in place; custom
    metadata keeps Unicode and case without header encoding. The JSON API is also what the GCS emulators
    implement (gcp-storage-emulator answers only a bare GET/PUT of the XML API), so the conformance suite runs
    against a real server in the test command.

URLs
    ``gs://bucket/optional/prefix?service_account_path=/path/key.json``; every field of :class:`GCSConfig` is a
    query option or a keyword of :func:`satchel.open`. Credentials are a service account key (a file, or its
    JSON text as a :class:`~satchel.secret.Secret`), or the environment's default credentials
    (``google.auth.default``). ``anonymous=True`` sends unauthenticated requests (emulators, public buckets);
    ``endpoint_url`` points at another server.

Etags
    ``"<generation>.<metageneration>"`` (see ``_meta``): unique per write of the bytes and per metadata update,
    and exactly what the write preconditions take. ``ObjectMeta.version`` is the generation.

Capabilities (and why)
    Everything but native rename (GCS has none: the Store copies and deletes). Signing (V4 signed URLs) only
    when the credentials hold a private key: a service account key, also with ``anonymous=True``. At most 100
    deletes per batch request (the JSON API's batch limit); at most 1024 parts per multipart upload.

What gcp-storage-emulator does not honour (the tests mark each as a strict xfail or a tripwire)
    Every write precondition (``ifGenerationMatch``/``ifMetagenerationMatch`` on uploads, compose, copy,
    rewrite and delete): conditional create, update, delete and copy-if-absent are declared for the real
    service, where the SDK sends them, but cannot be verified on the emulator. Also: ``rewrite`` ignores the
    destination's metadata; a media download of an object with non-Latin-1 custom metadata drops the
    connection; listings come in one page (``startOffset`` and page tokens are ignored, so the backend filters
    the offset itself); signed URLs are served without checking signature, method or expiry; a fresh object
    with custom metadata starts at metageneration 2.

Errors
    ``_errors.translate`` is the one place SDK exceptions become satchel's. A 404 from a write or a listing
    means the bucket is missing and raises ``ConfigError`` naming it; a read that finds no object checks the
    bucket once, so a missing bucket is a ``ConfigError`` there too. The SDK's own retries are off
    (``retry=None``): retrying is the retry layer's job, on errors marked ``retryable``.
"""

from satchel.backends.gcs._backend import GCS_CAPABILITIES, GCSBackend
from satchel.backends.gcs._config import GCSConfig

__all__ = ["GCS_CAPABILITIES", "GCSBackend", "GCSConfig"]
