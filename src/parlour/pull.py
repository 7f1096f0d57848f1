"""``parlour models pull``: a GGUF file from the Hugging Face Hub into the models directory.

How a pull goes (every request through ``huggingface_hub``, at ``HF_ENDPOINT``):

1. Without a file name, the repository's ``.gguf`` files are listed
   (``GET /api/models/{repo}/revision/{rev}?blobs=true``); exactly one is taken,
   several are a question back to the user, with their sizes.
2. ``HEAD /{repo}/resolve/{rev}/{file}`` gives the commit, the size
   (``X-Linked-Size``) and the checksum: ``X-Linked-Etag`` (else ``ETag``) is the
   file's sha256 for a file stored with Git LFS, as model files are, or the git
   blob id (sha1) for a small file kept in git itself.
3. The bytes go to ``MODELS_DIR/.partial/<file>.<checksum>.part``. What is there
   from an earlier, interrupted pull is kept: the download asks for the rest
   (``Range: bytes=N-``). Within one pull, ``huggingface_hub`` resumes a cut
   connection by itself a few times; it draws the progress bar.
4. The finished file is hashed and compared with the checksum. A mismatch
   deletes it (the next pull starts from nothing) and the pull fails; nothing
   reaches the models directory.
5. A verified file is moved into ``MODELS_DIR/<file name>`` in one rename, so a
   running server never lists half a file.

A second pull of the same file while one runs is refused (a lock on its ``.part`` file).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from parlour import __version__
from parlour.models_dir import SUFFIX, LocalModel, ModelsDir, describe

DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


class PullError(Exception):
    """A pull that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RepoFile:
    name: str  # its path in the repository
    size: int | None


@dataclass(frozen=True, slots=True)
class Pulled:
    model: LocalModel
    size: int
    resumed_from: int  # bytes already there from an earlier pull
    seconds: float  # the download and its check
    already: bool = False  # the file was in the models directory before


@dataclass(frozen=True, slots=True)
class Hub:
    """Where and how to reach the Hub."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    revision: str = "main"

    def headers(self) -> dict[str, str]:
        # Exported lazily (mypy does not see it).
        from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

        return build_hf_headers(
            token=self.token, library_name="parlour", library_version=__version__
        )


def gguf_files(hub: Hub, repo: str) -> list[RepoFile]:
    """The ``.gguf`` files of a repository, with their sizes."""
    from huggingface_hub import HfApi

    with _hub_errors(hub, repo):
        info = HfApi(endpoint=hub.endpoint, token=hub.token).model_info(
            repo, revision=hub.revision, files_metadata=True
        )
    return [
        RepoFile(s.rfilename, s.size)
        for s in info.siblings or []
        if s.rfilename.lower().endswith(SUFFIX)
    ]


def choose(files: list[RepoFile], repo: str) -> str:
    """The one GGUF file of a repository; several (or none) is a clear question back."""
    if len(files) == 1:
        return files[0].name
    if not files:
        raise PullError(f"{repo} has no .gguf file.")
    listing = "\n".join(f"  {f.name}  ({human_size(f.size)})" for f in files)
    raise PullError(
        f"{repo} has {len(files)} .gguf files; name the one you want, e.g. "
        f"parlour models pull {repo} {files[0].name}\n{listing}"
    )


def pull(models: ModelsDir, hub: Hub, repo: str, file: str | None = None) -> Pulled:
    """Download ``file`` (or the repository's only GGUF) into the models directory."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get

    if file is None:
        file = choose(gguf_files(hub, repo), repo)
    if not file.lower().endswith(SUFFIX):
        raise PullError(f"{file} is not a GGUF file: Parlour runs .gguf models only.")
    target = models.directory / Path(file).name
    if target.exists():
        return Pulled(describe(target), target.stat().st_size, 0, 0.0, already=True)
    url = hf_hub_url(repo, file, revision=hub.revision, endpoint=hub.endpoint)
    headers = hub.headers()
    with _hub_errors(hub, repo, file):
        meta = get_hf_file_metadata(url, token=hub.token, headers=headers, endpoint=hub.endpoint)
    checksum = (meta.etag or "").lower()
    if not (_SHA256.match(checksum) or _SHA1.match(checksum)):
        raise PullError(
            f"{hub.endpoint} gave no checksum for {file}: it is not refused, it cannot be "
            "verified, so it is not pulled."
        )
    if meta.location and _host(meta.location) != _host(url):
        headers.pop("authorization", None)  # a signed address on a CDN: no token there
    models.partial_dir.mkdir(parents=True, exist_ok=True)
    part = models.partial_dir / f"{Path(file).name}.{checksum[:16]}.part"
    for stale in models.partial_dir.glob(f"{Path(file).name}.*.part"):
        if stale != part:  # an earlier version of the file, changed on the Hub since
            stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with _locked(part) as out:
        out.seek(0, os.SEEK_END)
        resumed = out.tell()
        if meta.size is not None and resumed > meta.size:  # not ours: start again
            out.seek(0)
            out.truncate()
            resumed = 0
        try:
            http_get(meta.location or url, out, resume_size=resumed, headers=headers,
                     expected_size=meta.size, displayed_filename=Path(file).name)  # fmt: skip
        except (OSError, httpx2.HTTPError) as exc:  # the Hub's HTTP errors are OSErrors
            out.flush()
            got = f"{human_size(out.tell())} of {human_size(meta.size)}"
            raise PullError(
                f"The download of {file} stopped ({_reason(exc)}). What arrived ({got}) is "
                "kept: run the same pull again to resume it."
            ) from None
        out.flush()
        size = out.tell()
        if not _matches(part, checksum, size):
            part.unlink(missing_ok=True)
            raise PullError(
                f"{file} arrived damaged: its checksum does not match the one {hub.endpoint} "
                "gives. It was deleted; nothing was added. Try the pull again."
            )
        models.directory.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
    return Pulled(describe(target), size, resumed, time.perf_counter() - started)


def _matches(path: Path, checksum: str, size: int) -> bool:
    """The file's sha256 (a Git LFS file) or git blob id (sha1) is ``checksum``."""
    if _SHA256.match(checksum):
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"blob {size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == checksum


@contextmanager
def _locked(part: Path) -> Iterator[BinaryIO]:
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"Another pull of {part.name} is running; wait for it.") from None
        yield f


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return f"the server answered {status}" if status else exc.__class__.__name__


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


@contextmanager
def _hub_errors(hub: Hub, repo: str, file: str | None = None) -> Iterator[None]:
    """The Hub's errors as sentences."""
    import httpx2
    from huggingface_hub import errors

    what = f"{file} in {repo}" if file else repo
    try:
        yield
    except errors.GatedRepoError:
        raise PullError(
            f"{repo} is gated: accept its terms on the Hub, then set HF_TOKEN."
        ) from None
    except errors.RepositoryNotFoundError:
        raise PullError(
            f"No repository {repo} at {hub.endpoint} (a private one needs HF_TOKEN)."
        ) from None
    except errors.RevisionNotFoundError:
        raise PullError(f"{repo} has no revision {hub.revision!r}.") from None
    except errors.RemoteEntryNotFoundError:
        raise PullError(f"No file {file} in {repo} (at revision {hub.revision}).") from None
    except errors.HFValidationError:
        raise PullError(f"{repo!r} is not a repository name (like owner/name).") from None
    except errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise PullError(f"{hub.endpoint} answered {status} for {what}.") from None
    except (httpx2.ConnectError, httpx2.TimeoutException) as exc:
        raise PullError(
            f"Cannot reach {hub.endpoint} ({exc.__class__.__name__}); check the network "
            "or HF_ENDPOINT."
        ) from None


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # not reached
