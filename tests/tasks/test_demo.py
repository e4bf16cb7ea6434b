from pathlib import Path

import pytest

from common.errors import InputError
from common.params import load_params
from tasks.demo import example_pair, pretrain_params, write_catalog


def test_demo_example_pair_is_a_real_edit(tmp_path: Path) -> None:
    p = load_params(None, ["catalog.size=3", "catalog.resolution=32", "demo.example=1", "demo.value=0.6"])
    photos = write_catalog.fn(tmp_path, p)
    pair = example_pair.fn(tmp_path, p)
    assert pair["before"].read_bytes() == (photos / "00001.png").read_bytes()
    assert pair["truth"]["attribute"] == "hue" and pair["truth"]["value"] == 0.6
    assert pair["after"].read_bytes() != pair["before"].read_bytes()
    with pytest.raises(InputError, match="demo.example"):
        example_pair.fn(tmp_path, load_params(None, ["catalog.size=3", "demo.example=7"]))


def test_pretrain_params_are_the_demo_pretrain_section_over_the_rest() -> None:
    p = load_params(None, ["demo.pretrain.size=50", "demo.pretrain.seed=4", "demo.pretrain.steps=900",
                           "demo.pretrain.tune_from=700", "gan.steps=3", "gan.tune_from=0", "model.resolution=32"])
    pre = pretrain_params(p)
    assert (pre.catalog.size, pre.catalog.seed, pre.catalog.resolution) == (50, 4, 32)  # rendered at model size
    assert (pre.gan.steps, pre.gan.tune_from) == (900, 700) and pre.gan.lr == p.gan.lr  # the rest as given
