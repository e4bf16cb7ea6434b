"""The benchmarks behind `oneedit bench` (oneedit/bench.py parses the command line, this module runs).

Each function reads params (path + `--set` overrides), uses the models of the workspace (or trains
them there under WS/bench/, see bench_models) and writes one JSON file: the keys BENCHMARKS.md
documents, per-run detail, the machine, library versions and the exact command line.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.params import Params, load_params
from common.storage import write_json
from edit_core.checkpoint import load_checkpoint, load_generator
from edit_core.demo_catalog import ATTRIBUTES, render
from edit_core.estimators import estimate_attributes
from edit_core.imageops import resolve_device
from edit_core.metrics import attribute_probe
from edit_core.models import GENERATORS
from edit_core.transfer import time_transfer
from oneedit import bench_edit, bench_fashion, bench_models, bench_perf, bench_pipeline
from oneedit.scaling import measure_streaming_memory
from tasks.pretrained import check_init
from tasks.refine import example_look, render_path
from tasks.transfer import edit_photo


def _setup(params_path: Path | None, sets: list[str] | None) -> tuple[Params, object]:
    """Validated params (+ overrides), torch threads set, and the device."""
    import torch

    p = load_params(params_path, list(sets or []))
    torch.set_num_threads(p.runtime.threads)
    return p, resolve_device(p.runtime.device)


def _choices(spec: str, known: Iterable[str], option: str) -> list[str]:
    """A comma-separated list of names, each one of `known` (else a one-line error naming `option`)."""
    names = [a.strip() for a in spec.split(",") if a.strip()]
    unknown = [a for a in names if a not in known]
    if unknown or not names:
        raise InputError(f"{option}: unknown {unknown or 'empty list'}; choose from {sorted(known)}")
    return names


def _attributes(spec: str) -> list[str]:
    return _choices(spec, ATTRIBUTES, "--attributes")


def machine() -> dict:
    """The machine and library versions the numbers were measured with."""
    import cv2
    import skimage
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return {"cpu": model, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "load_avg_start": os.getloadavg(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "scikit_image": skimage.__version__,
            "platform": platform.platform()}


def _write(out: Path, name: str, p: Params, started: float, result: dict) -> None:
    """The JSON: results first, then the run's context."""
    meta = {"benchmark": name, "argv": shlex.join(sys.argv),
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": time.perf_counter() - started,
            "params_sha256": p.digest(), "machine": machine()}
    write_json(out, {**result, "meta": meta})
    print(f"{name}: wrote {out}")


def _stats(records: list[dict], key: str) -> dict:
    values = np.array([r[key] for r in records], dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "median": float(np.median(values))}


def _runs(m: bench_models.Models, p: Params, ws: Path, attributes: list[str], examples: int,
          seed: int) -> tuple[list[bench_edit.EditRun], dict[str, np.ndarray]]:
    """Example edits: `examples` catalog rows per attribute, each edited, projected and Δ* fitted."""
    rows = bench_models.catalog_rows(ws, p)
    picks = bench_edit.pick_examples(len(rows["hue"]), examples, seed)
    return [bench_edit.example_edit(m, p, rows, i, a) for a in attributes for i in picks], rows


def _others(w, rows: dict[str, np.ndarray], example: int):
    """Catalog latents and rows without the example itself."""
    keep = np.arange(len(w)) != example
    return w[keep], bench_models.rows_slice(rows, np.flatnonzero(keep))


PROBE_GOAL = 0.9  # issue 2: every attribute linearly readable from w of the default backbone


def probe(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, gans: list[Path] | None,
          backbones: str, train_images: int, n_train: int, n_test: int, seed: int) -> None:
    """Linear-probe R² (w -> attribute) of each GAN, next to the estimators' own R² on renders.

    The GANs are `gans`, or else one per backbone trained (resumed, reused) with params.model / gan on
    `train_images` demo renders (`bench_models.probe_gans`).

    The estimators' R² against the renders' ground truth (held-out rows, at the model's resolution)
    is the ceiling: a probe cannot read an attribute more reliably than `estimate_attributes` measures it.
    """
    started = time.perf_counter()
    p, device = _setup(params, set_)
    gans_given = bool(gans)
    if not gans:
        gans = bench_models.probe_gans(workspace, p, _choices(backbones, GENERATORS, "--backbones"), train_images,
                                       device)
    rows = bench_models.held_out_rows(n_test, p)
    ceilings: dict[int, dict[str, float]] = {}
    models = []
    for path in gans:
        ckpt = load_checkpoint(path, "cpu")
        G = load_generator(path, device)
        if G.resolution not in ceilings:
            estimated = estimate_attributes(render(rows, G.resolution))
            ceilings[G.resolution] = {a: float(np.corrcoef(estimated[a], rows[a])[0, 1] ** 2) for a in ATTRIBUTES}
        r2 = attribute_probe(G, estimate_attributes, n_train, n_test, seed=seed)
        batch = ckpt["train"]["batch_size"]
        models.append({"path": str(path), "config": ckpt["config"], "step": ckpt["step"], "batch_size": batch,
                       "images_seen": ckpt["step"] * batch, "r2": r2, "min_r2": min(r2.values()),
                       "meets_goal": min(r2.values()) >= PROBE_GOAL,
                       "estimator_r2_on_renders": ceilings[G.resolution]})
        print(f"{path} ({ckpt['config']['backbone']}, step {ckpt['step']}): "
              + " ".join(f"{k} {v:.3f}" for k, v in r2.items()))
    _write(out, "probe", p, started, {"goal": PROBE_GOAL, "models": models, "n_train": n_train, "n_test": n_test,
                                      "seed": seed, "train_images": None if gans_given else train_images})


def consistency(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, images: int,
                examples: int, attributes: str, seed: int) -> None:
    """Final-state MAE (Edit One for All Table 2): unedited, w+Δw, w+Δ*, α-scaled (ours)."""
    started = time.perf_counter()
    p, device = _setup(params, set_)
    m = bench_models.demo_models(workspace, p, device)
    w, latent_source = bench_models.catalog_latents(workspace, m, p, images)
    runs, rows = _runs(m, p, workspace, _attributes(attributes), examples, seed)
    rows = bench_models.rows_slice(rows, slice(0, len(w)))
    records = [bench_edit.consistency_record(m, r, *_others(w, rows, r.example), p) for r in runs]
    keys = [f"{v}_mae" for v in bench_edit.VARIANTS] + ["ideal_mae", "example_own_mae"]
    summary = {k: _stats(records, k) for k in keys + [f"{v}_latent_spread" for v in bench_edit.VARIANTS]}
    per_attribute = {a: {k: _stats([r for r in records if r["attribute"] == a], k) for k in keys + [
        f"{v}_mae_raw" for v in bench_edit.VARIANTS]} for a in _attributes(attributes)}
    mean = {k: summary[k]["mean"] for k in keys}
    main = [f"{v}_mae" for v in bench_edit.VARIANTS]
    result = {**{k: mean[k] for k in main}, **{f"{k}_std": summary[k]["std"] for k in main},
              "ideal_mae": mean["ideal_mae"], "ours_over_before": mean["ours_mae"] / mean["before_mae"],
              "ours_over_naive": mean["ours_mae"] / mean["naive_mae"],
              "closed_form_over_before": mean["closed_form_mae"] / mean["before_mae"],
              "goal_ours_le_0.19_before": mean["ours_mae"] <= 0.19 * mean["before_mae"],  # the paper's Table 2
              "goal_ours_le_0.5_naive": mean["ours_mae"] <= 0.5 * mean["naive_mae"],
              "units": "MAE as a fraction of each attribute's range (per_attribute *_mae_raw: raw units)",
              "target": "attribute read by edit_core.estimators from the example's edited photo (model res)",
              "latents": latent_source, "models": m.describe(), "summary": summary,
              "per_attribute": per_attribute, "runs": records,
              "timing": {"edit_s": _stats([vars(r) for r in runs], "edit_s"),
                         "direction_s": _stats([vars(r) for r in runs], "direction_s")}}
    _write(out, "consistency", p, started, result)


def linearity(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, images: int,
              examples: int, attributes: str, seed: int) -> None:
    """R² of attribute vs distance to the edit's hyperplane (Edit One for All Fig. 8a), Δw vs Δ*."""
    started = time.perf_counter()
    p, device = _setup(params, set_)
    m = bench_models.demo_models(workspace, p, device)
    w, latent_source = bench_models.catalog_latents(workspace, m, p, images)
    names = _attributes(attributes)
    runs, _ = _runs(m, p, workspace, names, examples, seed)
    values = {a: v for a, v in estimate_attributes(bench_edit.render_latents(m, w)).items() if a in names}
    records = [bench_edit.linearity_record(m, r, w, values[r.attribute]) for r in runs]
    result = {"r2_naive": _stats(records, "r2_naive")["mean"], "r2_ours": _stats(records, "r2_ours")["mean"],
              "r2_naive_std": _stats(records, "r2_naive")["std"], "r2_ours_std": _stats(records, "r2_ours")["std"],
              "per_attribute": {a: {k: _stats([r for r in records if r["attribute"] == a], k)
                                    for k in ("r2_naive", "r2_ours", "cos_dw_dstar")} for a in names},
              "values": "attribute of G(w_i) (unedited catalog latents) read by edit_core.estimators",
              "latents": latent_source, "models": m.describe(), "runs": records}
    _write(out, "linearity", p, started, result)


def transfer(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, images: int,
             examples: int, attributes: str, seed: int, photo_res: int) -> None:
    """PSNR / SSIM of the full-resolution edit vs the ideal re-render: motion+colour flow, naive, GAN."""
    started = time.perf_counter()
    p, device = _setup(params, set_)
    m = bench_models.demo_models(workspace, p, device)
    runs, rows = _runs(m, p, workspace, _attributes(attributes), examples, seed)
    records = []
    for r in runs:
        picks = [i for i in range(len(rows["hue"])) if i != r.example][:images]
        records.append(bench_edit.transfer_record(m, p, r, bench_models.rows_slice(rows, picks), photo_res))
    metrics = [f"{k}_{s}" for k in bench_edit.TRANSFER_METHODS for s in ("psnr", "ssim", "outside_change", "attr_mae")]
    summary = {k: _stats(records, k) for k in metrics + ["transfer_s_median"]}
    result = {**{k: summary[k]["mean"] for k in metrics},
              "transfer_s_per_image": summary["transfer_s_median"]["median"],
              "photo_resolution": photo_res,
              "ideal": "the same demo row re-rendered with the example's edited value (everything else unchanged)",
              "outside": "mean |output - photo| (grey levels) outside the ideal edit region (dilated)",
              "attr_mae": "estimator reading of the output vs the example's edited photo, fraction of range",
              "models": m.describe(), "summary": summary, "runs": records}
    _write(out, "transfer", p, started, result)


def fashion(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, photos: int, classes: str,
            photo_res: int, factor: float, init: Path | None) -> None:
    """A real-photo edit: Fashion-MNIST garments, one darkened as the pair, through ingest .. edit."""
    started = time.perf_counter()
    p, _ = _setup(params, set_)
    ids = bench_fashion.class_ids(classes)
    if init is not None:
        check_init(init, p, "--init")
    result = bench_fashion.fashion_edit(workspace / "bench", p, photos, ids, photo_res, factor, init)
    result |= {"classes": [bench_fashion.LABELS[i] for i in ids], "photo_resolution": photo_res, "darken": factor,
               "init": str(init) if init else None,
               "attribute": "garment brightness: mean grey level (0-255) over the original's garment pixels"}
    _write(out, "fashion", p, started, result)


def projection(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, images: int,
               fmnist_gan_steps: int, fmnist_encoder_steps: int, fmnist_resolution: int, fmnist_width: int,
               fmnist_train_images: int) -> None:
    """Reconstruction error of encoder / optimize / hybrid (iGAN), demo catalog + Fashion-MNIST, cross-category."""
    started = time.perf_counter()
    p, device = _setup(params, set_)
    budget = bench_models.FmnistBudget(fmnist_resolution, fmnist_width, fmnist_train_images, fmnist_gan_steps,
                                       fmnist_encoder_steps)
    demo = bench_models.demo_models(workspace, p, device)
    t0 = time.perf_counter()
    fmnist = bench_models.fmnist_models(workspace, p, budget, device)
    fmnist_train_s = time.perf_counter() - t0
    held_out = bench_models.held_out_rows(images, p)
    data = {"demo": lambda r: render(held_out, r),
            "fmnist": lambda r: bench_models.fashion_mnist_images("t10k", images, r)}
    settings = {}
    for model_name, m in (("demo", demo), ("fmnist", fmnist)):
        for data_name, make in data.items():
            settings[f"{model_name}_model_on_{data_name}"] = bench_perf.projection_table(m, make(m.G.resolution), p)
    main = settings["demo_model_on_demo"]
    result = {**{k: main[k]["pixel"] for k in ("encoder", "optimize", "hybrid")},
              "optimize_equal_time": main["optimize_equal_time"]["pixel"],
              "steps": max(1, p.project.steps),
              "cross_category_ratio": {
                  "demo_model": settings["demo_model_on_fmnist"]["hybrid"]["pixel"] / main["hybrid"]["pixel"],
                  "fmnist_model": settings["fmnist_model_on_demo"]["hybrid"]["pixel"]
                  / settings["fmnist_model_on_fmnist"]["hybrid"]["pixel"]},
              "error": "mean squared pixel error in [-1, 1] units (feature: the model's own D features)",
              "test_images": "demo: held-out rows (seed catalog.seed + 1000003); fmnist: first t10k images",
              "models": {"demo": demo.describe(), "fmnist": {**fmnist.describe(), "budget": vars(budget),
                                                             "train_s": fmnist_train_s}},
              "settings": settings}
    _write(out, "projection", p, started, result)


def speed(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, loop_images: int, steps: int,
          project_sizes: str, render_sizes: str, transfer_images: int, photo_res: int, edit_photos: int = 0) -> None:
    """Edit One for All Table 1 on this machine: edit, direction, α + render, transfer, projection."""
    started = time.perf_counter()
    p, device = _setup(params, set_)
    m = bench_models.demo_models(workspace, p, device)
    gflops = bench_perf.matmul_gflops()
    rows = bench_models.catalog_rows(workspace, p)
    run = bench_edit.example_edit(m, p, rows, p.demo.example % len(rows["hue"]), p.demo.attribute)

    test = render(bench_models.held_out_rows(max(loop_images, 1), p), m.G.resolution)
    batched = bench_perf.img_steps_per_s(m, test, steps, p, batched=True)
    loop = bench_perf.img_steps_per_s(m, test, steps, p, batched=False)
    # the same ratio per CPU-second (both clocks on all threads): what a shared machine does not distort
    cpu_fraction = (bench_perf.img_steps_per_s(m, test, steps, p, batched=True, clock=time.process_time)
                    / bench_perf.matmul_gflops(clock=time.process_time))
    flops = bench_perf.projection_flops_per_img_step(m, p)

    scaling_project = {}
    for n in (int(s) for s in project_sizes.split(",")):
        imgs = render(bench_models.held_out_rows(n, p), m.G.resolution)
        _, seconds = bench_perf.timed(lambda imgs=imgs: bench_models.project_batched(
            m, imgs, p.project.batch_size, **bench_models.project_kwargs(p)))
        scaling_project[str(n)] = {"images": n, "seconds": seconds, "s_per_image": seconds / n}
    largest = scaling_project[max(scaling_project, key=int)]
    scaling_render = {str(n): bench_perf.alpha_render_seconds(m, n, p.edit.strength)
                      for n in (int(s) for s in render_sizes.split(","))}
    biggest = scaling_render[max(scaling_render, key=int)]
    render_per_image = (biggest["alpha_s"] + biggest["render_s"]) / biggest["images"]

    picks = [i for i in range(len(rows["hue"])) if i != run.example][:transfer_images]
    photos = render(bench_models.rows_slice(rows, picks), photo_res)
    thumbs = render(bench_models.rows_slice(rows, picks), m.G.resolution)
    w = bench_models.project_batched(m, thumbs, p.project.batch_size, **bench_models.project_kwargs(p)).w
    all_frames, t_frames = bench_perf.timed(lambda: render_path(m.G, w, bench_edit.method_offsets(m, run, w, p),
                                                                p.transfer.frames))
    look = example_look(m.G, run.state(), p.edit.strength, p.transfer.frames)

    def edit(photo: np.ndarray, frames: np.ndarray) -> np.ndarray:
        return edit_photo(photo, frames, p, look)

    transfer_per_image = time_transfer(list(photos), list(all_frames), threads=1, edit=edit)
    transfer_cpu_per_image = time_transfer(list(photos), list(all_frames), threads=1, edit=edit,
                                           clock=time.thread_time)
    frames_per_image = t_frames / len(photos)
    per_image_edit = render_per_image + frames_per_image + transfer_per_image
    result = {
        "example_edit_s": run.edit_s, "direction_fit_s": run.direction_s,
        "transfer_s_per_image": transfer_per_image, "transfer_cpu_s_per_image": transfer_cpu_per_image,
        "refine_frames_s_per_image": frames_per_image,  # the refinement and the frames it renders
        "alpha_render_s_per_image": render_per_image,
        "transfer_1000_s_extrapolated": 1000 * per_image_edit,
        "table1_total_1000_s_extrapolated": run.edit_s + run.direction_s + 1000 * per_image_edit,
        "project_s_per_image": largest["s_per_image"],
        "project_1000_s_extrapolated": 1000 * largest["s_per_image"],
        "batched_img_steps_per_s": batched, "loop_img_steps_per_s": loop, "batched_over_loop": batched / loop,
        "projection_gflop_per_img_step": flops / 1e9, "matmul_gflops": gflops,
        "projection_fraction_of_matmul_rate": batched * flops / 1e9 / gflops,
        "projection_cpu_fraction_of_matmul_rate": cpu_fraction * flops / 1e9,
        "scaling_alpha_render": scaling_render, "scaling_project": scaling_project,
        "peak_rss_mb": bench_perf.peak_rss_mb(),
        "paper_table1_s": {"edit": 2, "direction": 30, "transfer_1000": 50, "device": "GPU (paper)"},
        "notes": "1000-image figures extrapolate the measured per-image medians linearly (marked _extrapolated)",
        "models": m.describe(),
    }
    if edit_photos:  # measured end to end through the pipeline's flows, not extrapolated
        result["edit_catalog"] = bench_pipeline.edit_catalog_seconds(workspace / "bench", m, p, edit_photos, photo_res)
    _write(out, "speed", p, started, result)


def memory(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, sizes: str, steps: int,
           synthetic: int, real_shards: int) -> None:
    """Peak RSS of every stage at each catalog size, each stage in a fresh process (oneedit.scaling), plus
    an optional synthetic catalog (ingest and projection simulated) of `synthetic` photos."""
    started = time.perf_counter()
    p, _ = _setup(params, set_)
    root = workspace / "bench" / "memory"
    common = {"batch_size": p.project.batch_size, "width": p.model.width, "steps": steps, "real_shards": real_shards}
    counts = [int(s) for s in sizes.split(",") if s.strip()]
    with ThreadPoolExecutor(max(1, len(counts))) as pool:  # sizes side by side: each stage is its own process
        futures = {str(n): pool.submit(measure_streaming_memory, n, root / str(n), shard_size=p.runtime.shard_size,
                                       **common) for n in counts}
        runs = {n: f.result() for n, f in futures.items()}
    result: dict = {"peak": "peak RSS (MiB) of each stage in its own fresh process; peak_rss_mb: the largest stage's",
                    "peak_rss_mb": {n: max(r["peak_rss_mib"].values()) for n, r in runs.items()}, "runs": runs}
    if len(runs) > 1:
        smallest, largest = min(runs, key=int), max(runs, key=int)
        growth = {stage: runs[largest]["peak_rss_mib"][stage] / runs[smallest]["peak_rss_mib"][stage]
                  for stage in runs[smallest]["peak_rss_mib"]}
        result |= {"growth_ratio": max(growth.values()), "growth_ratio_per_stage": growth,
                   "images_ratio": int(largest) / int(smallest)}
    if synthetic:
        big = measure_streaming_memory(synthetic, root / f"synthetic-{synthetic}", shard_size=1024,
                                       synthetic=True, **common)
        result["synthetic"] = big | {"peak_rss_mb": max(big["peak_rss_mib"].values())}
    _write(out, "memory", p, started, result)


def stylegan2(out: Path, gan: Path, params: Path | None, set_: list[str] | None, batch: int, repeats: int) -> None:
    """Cost of a StyleGAN2 generator: measured per image on this machine (a workspace's gan.pt, e.g. one
    `oneedit import-generator` wrote), and config F at 512 px from FLOP counts (oneedit.bench_stylegan2)."""
    from oneedit.bench_stylegan2 import bench_stylegan2

    started = time.perf_counter()
    p, _ = _setup(params, set_)
    G = load_generator(gan, "cpu")
    if G.config.backbone != "stylegan2":
        raise InputError(f"--gan {gan}: a {G.config.backbone} generator; this bench measures stylegan2 ones")
    result = bench_stylegan2(G, batch=batch, repeats=repeats, project_steps=p.project.steps)
    _write(out, "stylegan2", p, started, result)


def export(out: Path, workspace: Path, params: Path | None, set_: list[str] | None, photos: int,
           photo_res: int) -> None:
    """`oneedit export` of a synthetic applied edit of `photos` JPEGs (oneedit.bench_export), with
    runtime.threads encoding threads and the params' export section."""
    from oneedit.bench_export import bench_export
    from tasks.export import ExportOptions

    started = time.perf_counter()
    p, _ = _setup(params, set_)
    options = ExportOptions("same", p.export.jpeg_quality, p.export.webp_quality)
    result = bench_export(workspace, photos, photo_res, p.runtime.threads, options)
    _write(out, "export", p, started, result)
