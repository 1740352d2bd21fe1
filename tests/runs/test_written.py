"""A run's LoRA counts only when this attempt wrote it (qbtui.runs.written)."""

from __future__ import annotations

import os

from qbtui.runs.written import LoraWitness


def test_an_untouched_older_file_does_not_count(tmp_path):
    final = tmp_path / "qb_ada_lora.safetensors"
    final.write_bytes(b"older")
    witness = LoraWitness(final)
    reason = witness.not_written(str(final))
    assert reason is not None and f"{final} is an older LoRA" in reason and "5 bytes" in reason
    # the same file reached by another name is still the same file
    (tmp_path / "link.safetensors").symlink_to(final)
    assert witness.not_written(str(tmp_path / "link.safetensors")) is not None


def test_a_file_written_in_place_or_replaced_counts(tmp_path):
    final = tmp_path / "qb_ada_lora.safetensors"
    final.write_bytes(b"older")
    os.utime(final, ns=(1_000_000_000, 1_000_000_000))
    witness = LoraWitness(final)
    final.write_bytes(b"newer")  # same inode, same size, new mtime
    assert witness.not_written(str(final)) is None
    replacement = tmp_path / "new"
    replacement.write_bytes(b"new")
    os.replace(replacement, final)
    assert witness.not_written(str(final)) is None


def test_a_missing_or_unnamed_file_does_not_count(tmp_path):
    witness = LoraWitness(tmp_path / "qb_ada_lora.safetensors")
    assert "no file" in (witness.not_written(str(tmp_path / "qb_ada_lora.safetensors")) or "")
    assert witness.not_written(None) == "the backend named no LoRA file"
    (tmp_path / "folder.safetensors").mkdir()
    assert witness.not_written(str(tmp_path / "folder.safetensors")) is not None


def test_an_evaluation_run_stamps_nothing(tmp_path):
    old = tmp_path / "qb_ada_lora.safetensors"
    old.write_bytes(b"evaluated")
    table = {"backend": "eval", "output_dir": str(tmp_path), "output_name": "qb_ada_lora"}
    assert LoraWitness.before_run(table).not_written(str(old)) is None
    assert LoraWitness.before_run({**table, "backend": "kohya"}).not_written(str(old)) is not None
