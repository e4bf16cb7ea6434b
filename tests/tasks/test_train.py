from pathlib import Path

import numpy as np

from common.storage import read_json, read_parquet, write_json
from tasks.train import _is_done, _record


def test_finished_model_is_skipped_and_stale_checkpoint_dropped(tmp_path: Path) -> None:
    ckpt, meta = tmp_path / "gan.pt", tmp_path / "gan.json"
    assert not _is_done(ckpt, meta, "fp1")  # fresh: records that fp1 started
    ckpt.write_bytes(b"partial")
    assert not _is_done(ckpt, meta, "fp1") and ckpt.exists()  # same inputs: resume from it
    assert not _is_done(ckpt, meta, "fp2") and not ckpt.exists()  # other inputs: never resume
    ckpt.write_bytes(b"done")
    write_json(meta, {"fingerprint": "fp2"})
    assert _is_done(ckpt, meta, "fp2")


def test_record_writes_samples_losses_and_metrics(tmp_path: Path) -> None:
    ckpt, meta = tmp_path / "gan.pt", tmp_path / "gan.json"
    history = {"step": [5, 10], "loss_G": [1.0, 0.5], "loss_D": [2.0, 1.0],
               "samples": [(10, np.zeros((8, 8, 3), np.uint8))]}
    metrics = _record(ckpt, meta, "fp", history, "gan", tmp_path / "samples")
    assert metrics["final_loss_G"] == 0.5 and read_json(meta)["fingerprint"] == "fp"
    assert (tmp_path / "samples" / "gan-000010.png").is_file()
    losses = read_parquet(tmp_path / "gan_losses.parquet")
    assert set(losses["metric"]) == {"loss_G", "loss_D"} and len(losses) == 4
    assert read_json(tmp_path / "gan_losses.json")[1] == {"step": 10, "loss_G": 0.5, "loss_D": 1.0}
