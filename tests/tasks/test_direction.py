"""The edit's input copy and identity (tasks/direction.py), without a model."""

import json
from pathlib import Path

import numpy as np

from common.storage import read_json, sha256_file
from tasks.direction import copy_input, identity, input_digest
from tasks.images import write_png


def test_a_brush_copy_holds_its_masks_and_keeps_the_digest(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write_png(user / "masks" / "paint.png", np.full((8, 8, 3), 255, np.uint8))
    write_png(user / "edges.png", np.zeros((8, 8, 3), np.uint8))
    spec = {"color": {"mask": "masks/paint.png", "rgb": [200, 10, 10]}, "sketch": {"edges": "edges.png",
                                                                                   "mask": "masks/paint.png"}}
    (user / "brush.json").write_text(json.dumps(spec))
    copy = copy_input("brush", user / "brush.json", tmp_path / "edit" / "input")
    copied = read_json(copy)
    assert copied["color"]["rgb"] == [200, 10, 10]
    for stroke, key in (("color", "mask"), ("sketch", "edges"), ("sketch", "mask")):
        assert sha256_file(copy.parent / copied[stroke][key]) == sha256_file(user / spec[stroke][key])
    assert input_digest("brush", copy) == input_digest("brush", user / "brush.json")
    write_png(user / "edges.png", np.full((8, 8, 3), 9, np.uint8))  # a mask changed: another input
    assert input_digest("brush", copy) != input_digest("brush", user / "brush.json")


def test_pair_and_offset_copies_are_the_same_bytes(tmp_path: Path) -> None:
    offset = tmp_path / "d.npy"
    np.save(offset, np.ones(4, np.float32))
    copy = copy_input("offset", offset, tmp_path / "input")
    assert copy.name == "offset.npy" and input_digest("offset", copy) == sha256_file(offset)


def test_identity_ignores_the_generator_and_the_name() -> None:
    spec = {"name": "a", "kind": "pair", "example_key": "00ff", "input_sha256": "ab", "params": {"x": 1},
            "gan_sha256": "g1"}
    assert identity(spec) == identity({**spec, "name": "b", "gan_sha256": "g2"})
    assert identity(spec) != identity({**spec, "input_sha256": "cd"})
    assert identity(spec) != identity({**spec, "params": {"x": 2}})
