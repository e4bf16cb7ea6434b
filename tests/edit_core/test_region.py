import torch

from edit_core.region import REGION_FLOOR, edit_region, relative_region


def _pair(edit: float, tint: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A grey 32 px image; `after` changes an 8 px square by `edit` and the rest by `tint` ([-1, 1] units)."""
    before = torch.zeros(1, 3, 32, 32)
    after = before + tint
    after[..., 12:20, 12:20] = edit
    return before, after


def test_the_region_is_the_edit_not_the_tint_around_it() -> None:
    before, after = _pair(edit=0.8, tint=14 / 127.5)  # a 14-level background tint beside a 100-level repaint
    region = edit_region(before, after, radius=0)[0, 0]
    assert (region[12:20, 12:20] == 1).all() and (region[:10] == 0).all()
    # the same tint with an absolute 6-level threshold would have been "changed" everywhere
    assert float(relative_region(torch.full((1, 32, 32), 7 / 255)).max()) == 1.0  # only a uniform change: all of it


def test_a_photo_the_edit_barely_moves_gets_no_region_of_noise() -> None:
    noise = torch.rand(1, 32, 32) * REGION_FLOOR * 0.2  # below the floor: rounding and G's noise
    assert float(relative_region(noise).max()) == 0.0


def test_the_region_grows_by_its_radius() -> None:
    before, after = _pair(edit=0.8, tint=0.0)
    grown = edit_region(before, after, radius=2)[0, 0]
    assert float(grown[11, 16]) > 0 and float(grown[5, 16]) == 0
