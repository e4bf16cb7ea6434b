import torch

from edit_core.features import DiscriminatorFeatures, HOGFeatures, feature_distance
from edit_core.models import ModelConfig, build_discriminator


def stripes(vertical: bool, period: int = 4, size: int = 16) -> torch.Tensor:
    """[1, 3, size, size] black/white stripes in [-1, 1]."""
    coord = torch.arange(size)
    line = ((coord // (period // 2)) % 2).float() * 2 - 1
    img = line[None, :].expand(size, size) if vertical else line[:, None].expand(size, size)
    return img[None, None].expand(1, 3, size, size).clone()


def test_hog_sees_orientation_not_contrast_sign() -> None:
    hog = HOGFeatures(cell=4, bins=9)
    v, h = hog(stripes(True))[0], hog(stripes(False))[0]
    assert v.shape == (1, 9, 4, 4)
    bins_v, bins_h = v.sum(dim=(0, 2, 3)), h.sum(dim=(0, 2, 3))
    assert int(bins_v.argmax()) != int(bins_h.argmax())
    torch.testing.assert_close(hog(-stripes(True))[0], v)  # unsigned orientation
    flat = hog(torch.zeros(1, 3, 16, 16))[0]
    assert float(flat.abs().max()) < 1e-2


def test_hog_is_differentiable_and_accepts_one_channel() -> None:
    x = stripes(True).requires_grad_(True)
    y = stripes(False)
    d = feature_distance(x, y, HOGFeatures())
    d.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    assert HOGFeatures()(stripes(True)[:, :1])[0].shape == (1, 9, 4, 4)


def test_feature_distance_is_per_image() -> None:
    D = build_discriminator(ModelConfig(resolution=16, width=4))
    feats = DiscriminatorFeatures(D)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1, torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    d = feature_distance(a, b, feats)
    assert d.shape == (4,) and bool((d > 0).all())
    torch.testing.assert_close(feature_distance(a[2:3], b[2:3], feats), d[2:3])
    torch.testing.assert_close(feature_distance(a, a, feats), torch.zeros(4))


def test_discriminator_features_freeze_a_copy() -> None:
    D = build_discriminator(ModelConfig(resolution=16, width=4))
    feats = DiscriminatorFeatures(D, layers=[0, 2])
    assert all(p.requires_grad for p in D.parameters())
    assert len(feats(torch.zeros(1, 3, 16, 16))) == 2
    with torch.no_grad():
        next(D.parameters()).add_(1.0)
    x = torch.rand(1, 3, 16, 16)
    assert not torch.equal(feats(x)[0], D.features(x)[0])
