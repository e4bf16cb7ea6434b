import torch

from edit_core.training import image_grid


def test_image_grid_layout() -> None:
    imgs = torch.linspace(-1, 1, 5)[:, None, None, None].expand(5, 3, 2, 2)
    grid = image_grid(imgs, cols=2)
    assert grid.shape == (6, 4, 3)
    assert grid[0, 0, 0] == 0 and grid[4, 0, 0] == 255 and grid[4, 2, 0] == 0  # empty cell is black
