from pathlib import Path

import numpy as np

from common.storage import read_json, read_parquet, sha256_file, write_json
from common.workspace import Workspace
from tasks.train import _current, _record, _start, staged


def test_in_progress_model_is_resumed_only_for_its_fingerprint(tmp_path: Path) -> None:
    ckpt, meta = tmp_path / "gan.pt", tmp_path / "gan.json"
    ckpt.write_bytes(b"the current model")
    write_json(meta, {"fingerprint": "fp0", "sha256": sha256_file(ckpt)})
    assert _current(ckpt, meta, "fp0") and not _current(ckpt, meta, "fp1")
    assert _start(ckpt, "fp1") is None  # fresh: records that fp1 started, in models/next/
    staged(ckpt).write_bytes(b"partial")
    _start(ckpt, "fp1")
    assert staged(ckpt).read_bytes() == b"partial"  # same inputs: resume from it
    _start(ckpt, "fp2")
    assert not staged(ckpt).exists()  # other inputs: never resume
    assert ckpt.read_bytes() == b"the current model" and read_json(meta)["fingerprint"] == "fp0"


def test_a_model_whose_bytes_differ_from_its_metrics_is_not_current(tmp_path: Path) -> None:
    ckpt, meta = tmp_path / "gan.pt", tmp_path / "gan.json"
    ckpt.write_bytes(b"model")
    write_json(meta, {"fingerprint": "fp", "sha256": sha256_file(ckpt)})
    ckpt.write_bytes(b"mod")  # truncated
    assert _current(ckpt, meta, "fp") is None


def test_record_writes_samples_losses_and_metrics_then_swaps(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    ckpt, meta = ws.gan, ws.model_record("gan")
    staged(ckpt).parent.mkdir(parents=True)
    ckpt.write_bytes(b"old")
    staged(ckpt).write_bytes(b"new")
    history = {"step": [5, 10], "loss_G": [1.0, 0.5], "loss_D": [2.0, 1.0],
               "samples": [(10, np.zeros((8, 8, 3), np.uint8))]}
    metrics = _record(ws, ckpt, meta, "fp", history, "gan")
    assert metrics["final_loss_G"] == 0.5 and read_json(meta)["fingerprint"] == "fp"
    assert ckpt.read_bytes() == b"new" and not staged(ckpt).exists() and _current(ckpt, meta, "fp")
    assert (ws.samples / "gan-000010.png").is_file()
    losses = read_parquet(ws.model_losses("gan").with_suffix(".parquet"))
    assert set(losses["metric"]) == {"loss_G", "loss_D"} and len(losses) == 4
    assert read_json(ws.model_losses("gan"))[1] == {"step": 10, "loss_G": 0.5, "loss_D": 1.0}
