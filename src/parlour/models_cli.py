"""``parlour models list | pull REPO [FILE] | rm NAME``: the local models from the shell."""

from __future__ import annotations

import argparse
import sys

from parlour.config import Settings
from parlour.models_dir import ModelsDir, UnknownLocalModel
from parlour.providers.local import bundled_model_path
from parlour.pull import Hub, PullError, human_size, pull


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="the local models: list, pull, rm")
    commands = models.add_subparsers(dest="models_command", required=True)
    commands.add_parser("list", help="the local models: name, size, path")
    fetch = commands.add_parser(
        "pull", help="download a GGUF model from the Hugging Face Hub (HF_ENDPOINT)"
    )
    fetch.add_argument("repo", help="the repository, like owner/name")
    fetch.add_argument("file", nargs="?", help="the .gguf file (needed if it has several)")
    fetch.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    remove = commands.add_parser("rm", help="delete a model from the models directory")
    remove.add_argument("name", help="the model's name, as `parlour models list` shows it")


def models_dir(settings: Settings) -> ModelsDir:
    return ModelsDir(settings.models_path, settings.local_model_path or bundled_model_path())


def run(settings: Settings, args: argparse.Namespace) -> int:
    models = models_dir(settings)
    command = args.models_command
    if command == "list":
        return _list(models)
    if command == "rm":
        try:
            gone = models.remove(args.name)
        except UnknownLocalModel as exc:
            print(f"parlour: {exc.args[0]}", file=sys.stderr)
            return 1
        print(f"removed {gone.id} ({human_size(gone.size)}, {gone.path})")
        return 0
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    hub = Hub(endpoint=settings.hf_endpoint, token=token, revision=args.revision)
    try:
        done = pull(models, hub, args.repo, args.file)
    except PullError as exc:
        print(f"parlour: {exc}", file=sys.stderr)
        return 1
    if done.already:
        print(f"{done.model.id} is already in {models.directory} (parlour models rm "
              f"{done.model.id} to pull it again)")  # fmt: skip
        return 0
    resumed = f", resumed after {human_size(done.resumed_from)}" if done.resumed_from else ""
    print(f"pulled {done.model.id} ({human_size(done.size)}, checksum verified{resumed}) "
          f"into {models.directory}")  # fmt: skip
    return 0


def _list(models: ModelsDir) -> int:
    found = models.scan()
    if not found:
        print(f"no local models; parlour models pull REPO [FILE] downloads one into "
              f"{models.directory}")  # fmt: skip
        return 0
    width = max(len(m.id) for m in found)
    print(f"{'NAME':<{width}}  {'SIZE':>9}  PATH")
    for m in found:
        notes = [note for note in ("bundled" if m.bundled else "", m.problem or "") if note]
        tail = f"  ({'; '.join(notes)})" if notes else ""
        print(f"{m.id:<{width}}  {human_size(m.size):>9}  {m.path}{tail}")
    return 0
