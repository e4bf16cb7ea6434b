"""Demo-only tasks: render the catalog (ground truth) and make the example's before/after pair.

The "after" photo is a real edited photo: the example's own attribute row rendered again with one
attribute changed (demo.attribute = demo.value), so the pair path runs end to end.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError
from common.params import Params
from common.storage import atomic_path, read_json, read_parquet, write_json
from edit_core.demo_catalog import ATTRIBUTES, render_edited
from tasks.catalog import ATTRIBUTES_FILE, PHOTOS, read_demo_catalog, write_demo_catalog
from tasks.images import write_png


def catalog_is_current(out: Path, params: Params) -> bool:
    """True when `out` already holds exactly the catalog these params describe."""
    if not (out / ATTRIBUTES_FILE).is_file():
        return False
    df = read_parquet(out / ATTRIBUTES_FILE)
    c = params.catalog
    return (len(df) == c.size and bool((df["seed"] == c.seed).all())
            and all((out / PHOTOS / f).is_file() for f in df["file"]))


def check_demo_workspace(root: Path) -> None:
    """`oneedit demo` writes its own catalog, manifest, models and edit: only into a new or empty folder,
    or a workspace an earlier demo made (its catalog is WS/catalog/photos)."""
    root = Path(root)
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return
    source = root / "ingest" / "source.json"
    if (root / "workspace.json").is_file():
        if source.is_file() and Path(read_json(source).get("source", "")) == (root / "catalog" / PHOTOS).resolve():
            return
        if not source.is_file() and not any((root / d).exists() for d in ("ingest", "models", "latents", "edits")):
            return
    raise InputError(f"{root} is not a demo workspace (it holds other files or another catalog, which the demo "
                     "would replace): give `oneedit demo` a new folder with --workspace")


def pretrain_params(params: Params) -> Params:
    """The params of the demo's pretraining run: its catalog (demo.pretrain size and seed, rendered at
    model.resolution, so ingest does not resize), its GAN steps and tune phase; every other key as given."""
    pre = params.demo.pretrain
    catalog = params.catalog.model_copy(update={"size": pre.size, "seed": pre.seed,
                                                "resolution": params.model.resolution})
    gan = params.gan.model_copy(update={"steps": pre.steps, "tune_from": pre.tune_from})
    return params.model_copy(update={"catalog": catalog, "gan": gan})


@task(cache_policy=NO_CACHE, persist_result=False)
def write_catalog(out: Path, params: Params) -> Path:
    """out/photos/*.png + out/attributes.parquet (skipped when already there)."""
    c = params.catalog
    if not catalog_is_current(out, params):
        with progress.track(f"render {c.size} demo photos ({c.resolution} px)", total=c.size) as bar:
            write_demo_catalog(out, c.size, seed=c.seed, resolution=c.resolution, on_progress=bar.update)
    return out / PHOTOS


@task(cache_policy=NO_CACHE, persist_result=False)
def example_pair(out: Path, params: Params) -> dict:
    """out/example/before.png (the catalog photo itself), after.png and truth.json."""
    d = params.demo
    df, attrs = read_demo_catalog(out)
    if d.example >= len(df):
        raise InputError(f"demo.example = {d.example}, but the catalog has {len(df)} photos")
    lo, hi = ATTRIBUTES[d.attribute]
    if not lo <= d.value <= hi:
        raise InputError(f"demo.value = {d.value} is outside {d.attribute}'s range [{lo}, {hi}]")
    row = {k: v[d.example : d.example + 1] for k, v in attrs.items()}
    example = out / "example"
    with atomic_path(example / "before.png") as tmp:
        tmp.write_bytes((out / PHOTOS / df["file"].iloc[d.example]).read_bytes())
    write_png(example / "after.png", render_edited(row, d.attribute, d.value, params.catalog.resolution)[0])
    truth = {"attribute": d.attribute, "value": d.value, "before": float(row[d.attribute][0])}
    write_json(example / "truth.json", truth)
    return {"before": example / "before.png", "after": example / "after.png", "truth": truth}
