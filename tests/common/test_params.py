from pathlib import Path

import pytest
import yaml

from common.errors import InputError
from common.params import Params, load_params

REPO = Path(__file__).resolve().parents[2]


def test_params_yaml_equals_packaged_defaults() -> None:
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    assert Params.model_validate(data).to_dict() == Params().to_dict()


def test_fallback_to_defaults_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./params.yaml here
    p = load_params(None, ["edit.strength=1.5", "edit.direction.lambda=0.05", "runtime.device=cpu",
                           "gan.betas=[0.5, 0.9]"])
    assert (p.edit.strength, p.edit.direction.lam, p.runtime.device, p.gan.betas) == (1.5, 0.05, "cpu", (0.5, 0.9))
    assert p.catalog == Params().catalog


def test_params_file_is_read(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("gan:\n  steps: 7\n")
    assert load_params(f).gan.steps == 7


@pytest.mark.parametrize("override, expected", [
    ("edit.strength=-11", "edit.strength"),
    ("project.feature_weight=.inf", "project.feature_weight: Input should be a finite number"),
    ("gan.betas=[.nan, 0.9]", "gan.betas.0: Input should be a finite number"),
    ("edit.nope=1", "edit.nope: unknown key"),
    ("nosection.key=1", "nosection: unknown key"),
    ("project.mode=magic", "project.mode"),
    ("runtime.device=gpu", "runtime.device"),
    ("model.resolution=48", "model.resolution"),
    ("gan.augment=color,flip", "gan.augment"),
    ("edit.direction.layers=[a]", "edit.direction.layers"),
    ("model.backbone=dcgan", "model: dcgan has w = z: set model.w_dim equal to model.z_dim (64), got 256"),
    ("strength=1", "expected section.key=value"),
    ("edit.strength", "expected section.key=value"),
])
def test_bad_override_is_one_line(override: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        load_params(None, [override])
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("gan: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_params(f)
    with pytest.raises(InputError, match="params file not found"):
        load_params(tmp_path / "missing.yaml")


def test_digest_depends_only_on_named_sections() -> None:
    a, b = Params(), load_params(None, ["edit.strength=2"])
    assert a.digest("project") == b.digest("project") and a.digest() != b.digest()
