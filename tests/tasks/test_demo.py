from pathlib import Path

import pytest

from common.errors import InputError
from common.params import load_params
from tasks.demo import example_pair, write_catalog


def test_demo_example_pair_is_a_real_edit(tmp_path: Path) -> None:
    p = load_params(None, ["catalog.size=3", "catalog.resolution=32", "demo.example=1", "demo.value=0.6"])
    photos = write_catalog.fn(tmp_path, p)
    pair = example_pair.fn(tmp_path, p)
    assert pair["before"].read_bytes() == (photos / "00001.png").read_bytes()
    assert pair["truth"]["attribute"] == "hue" and pair["truth"]["value"] == 0.6
    assert pair["after"].read_bytes() != pair["before"].read_bytes()
    with pytest.raises(InputError, match="demo.example"):
        example_pair.fn(tmp_path, load_params(None, ["catalog.size=3", "demo.example=7"]))
