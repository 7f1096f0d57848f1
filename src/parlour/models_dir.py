"""The local models: every ``.gguf`` file in the models directory, and the bundled one.

The directory is read again whenever the models are listed, cheaply: one
``stat`` of the directory tells whether a file was added, removed or renamed
into it (a pull moves its finished file in, which changes the directory's
modification time), and only then are its entries read; a file's header is
parsed once for each size and modification time it has. Files whose name
starts with a dot, and the ``.partial`` directory where pulls keep what they
have downloaded so far, are not models.

A model's id is its file name without ``.gguf``. The bundled model (or the file
``LOCAL_MODEL_PATH`` names) comes first; a file in the directory with the same
id is not offered twice.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from parlour.gguf import GGUFError, read_header

SUFFIX = ".gguf"
PARTIAL = ".partial"  # in the models directory: unfinished pulls


@dataclass(frozen=True, slots=True)
class LocalModel:
    id: str
    name: str  # for people: the file's general.name, else its id
    path: Path
    size: int  # bytes on disk: also the estimate of the memory it takes loaded
    context_length: int | None  # what it was trained for, if the file says
    bundled: bool = False  # the model that comes with Parlour (or LOCAL_MODEL_PATH)
    problem: str | None = None  # why it cannot be offered (unreadable, a duplicate name)


class UnknownLocalModel(LookupError):
    """No local model has that name."""


def model_id(path: Path) -> str:
    return path.name.removesuffix(SUFFIX)


def describe(path: Path, *, bundled: bool = False) -> LocalModel:
    """Stat the file and read its header (blocking; a few kilobytes)."""
    try:
        size = path.stat().st_size
    except OSError:
        return LocalModel(model_id(path), model_id(path), path, 0, None, bundled, "missing")
    try:
        header = read_header(path)
    except GGUFError as exc:
        return LocalModel(model_id(path), model_id(path), path, size, None, bundled, str(exc))
    name = header.name or model_id(path)
    return LocalModel(model_id(path), name, path, size, header.context_length, bundled)


class ModelsDir:
    """Lists the local models; safe to use from several threads."""

    def __init__(self, directory: Path, bundled: Path | None = None) -> None:
        self.directory = directory
        self.bundled_path = bundled
        self._lock = threading.Lock()
        self._stamp: int | None = None  # the directory's mtime when last read
        self._files: list[LocalModel] = []
        self._seen: dict[tuple[str, int, int], LocalModel] = {}  # (name, size, mtime)
        self._bundled: LocalModel | None = None

    @property
    def partial_dir(self) -> Path:
        return self.directory / PARTIAL

    def scan(self) -> list[LocalModel]:
        """Every local model, the bundled one first, those with a problem included."""
        with self._lock:
            if self.bundled_path is not None and self._bundled is None:
                self._bundled = describe(self.bundled_path, bundled=True)
            try:
                stamp = self.directory.stat().st_mtime_ns
            except OSError:
                stamp = None  # no directory (yet): no files
            if stamp != self._stamp or stamp is None:
                self._files = self._read_dir() if stamp is not None else []
                self._stamp = stamp
            found = [self._bundled] if self._bundled is not None else []
            taken = {m.id for m in found}
            for model in self._files:
                if model.id in taken and model.problem is None:
                    model = _with_problem(model, "the same name as the bundled model")
                taken.add(model.id)
                found.append(model)
            return found

    def available(self) -> list[LocalModel]:
        return [m for m in self.scan() if m.problem is None]

    def find(self, name: str) -> LocalModel:
        """The model with this id (or file name); raises :class:`UnknownLocalModel`."""
        wanted = name.removesuffix(SUFFIX)
        for model in self.scan():
            if model.id == wanted:
                return model
        known = ", ".join(m.id for m in self.scan()) or "none"
        raise UnknownLocalModel(f"No local model is named {name!r}; the local models: {known}.")

    def remove(self, name: str) -> LocalModel:
        """Delete a model's file from the models directory (never the bundled one)."""
        model = self.find(name)
        if model.bundled:
            raise UnknownLocalModel(
                f"{model.id} is the bundled model, not a file in the models directory; "
                "LOCAL_ENABLED=false turns the local models off."
            )
        model.path.unlink(missing_ok=True)
        with self._lock:
            self._stamp = None  # read again next time
        return model

    def _read_dir(self) -> list[LocalModel]:
        files: list[LocalModel] = []
        seen: dict[tuple[str, int, int], LocalModel] = {}
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(SUFFIX):
                    continue
                try:
                    if not entry.is_file():
                        continue
                    st = entry.stat()
                except OSError:
                    continue  # removed meanwhile
                key = (entry.name, st.st_size, st.st_mtime_ns)
                model = self._seen.get(key) or describe(Path(entry.path))
                seen[key] = model
                files.append(model)
        self._seen = seen
        files.sort(key=lambda m: m.id.lower())
        return files


def _with_problem(model: LocalModel, problem: str) -> LocalModel:
    return LocalModel(model.id, model.name, model.path, model.size, model.context_length,
                      model.bundled, problem)  # fmt: skip
