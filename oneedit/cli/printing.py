"""What the commands print: results on stdout (`out`), warnings and errors on stderr (`console`), one line
each (never Rich markup: file names may hold brackets)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from common.errors import OneEditError
from common.workspace import Workspace

console = Console(stderr=True)
out = Console()
NOTES_SHOWN = 10  # photos listed per status at the end of a run (all of them are in results.parquet)


def say(text: str) -> None:
    """One line of results on stdout, as written (no markup, no highlighting, no wrapping)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """One `warning:` line on stderr."""
    console.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)


def print_rejected(ws: Workspace, limit: int = 20) -> None:
    """The files ingest rejected, with their reasons (the first `limit`; all of them are in the manifest)."""
    from tasks.manifest import rejected_files

    rejected = rejected_files(ws)
    for path, reason in rejected[:limit]:
        say(f"  rejected {path}: {reason}")
    if rejected:
        more = f"{len(rejected) - limit} more; " if len(rejected) > limit else ""
        say(f"  ({more}every rejected file and its reason: status 'rejected' in {ws.manifest})")


def print_quality(ws: Workspace, quality: dict) -> None:
    """What the models reached (tasks.train.model_quality), and a warning when too weak to carry an edit."""
    samples = ws.root / quality["samples"] if quality["samples"] else "none"
    say(f"the models reconstruct the catalog to {quality['reconstruction_error']:.4f} (pixel MSE; "
        f"{quality['unexplained']:.0%} of its photos' variance unexplained); samples: {samples}")
    if quality["weak"]:
        warn(f"the generator renders this catalog poorly ({quality['unexplained']:.0%} of the photos' variance "
             "unexplained): edits will not look like the example; train longer (gan.steps, encoder.steps) or "
             "start from a pretrained generator (--init)")


def print_preview(name: str, folder: Path, summary: dict) -> None:
    """`edit --preview` / `--only`: what applying the edit would leave, and each sampled photo."""
    counts = ", ".join(f"{v} {k}" for k, v in summary["status"].items())
    out.print(f"preview of {name!r} at strength {summary['strength']:g}: of {summary['photos']} photos, applying "
              f"it would leave {counts}; sample in {folder}", markup=False, soft_wrap=True)
    for row in summary["sample"]:
        shown = f"{row['after']}" if "after" in row else "not edited"
        why = f" ({row['reason']})" if row["reason"] else ""
        say(f"  {row['file']}: alpha {row['alpha']:.4f} {row['status']}{why} -> {shown}")
    if not summary["would_edit"]:
        warn(f"applying this edit would edit no photo: {summary['common_reason']}")


def stale(reasons: list[str]) -> str:
    return "stale: " + "; ".join(reasons) if reasons else "up to date"


def print_edits(ws: Workspace, edits: list[dict], indent: str = "") -> None:
    """One line per saved edit (`list`, `status`): kind, strength, state, counts, what is stale."""
    if not edits:
        out.print(f"{indent}no edits in {ws.root} yet: `oneedit edit` or `oneedit studio` makes one", markup=False)
    for e in edits:
        strength = f"{e['strength']:.3g}" if e["strength"] is not None else "-"
        counts = ", ".join(f"{v} {k}" for k, v in sorted(e["counts"].items())) or "no results"
        kept = f"  {e['versions']} earlier version(s)" if e.get("versions") else ""
        say(f"{indent}{e['name']:<24} {e['kind']:<6} strength {strength:<6} {e['state']:<8} ({counts})  "
            f"{stale(e['stale'])}{kept}")


def print_status(ws: Workspace, st: dict) -> None:
    """`status`: the models, the projection and every saved edit, each with what is stale."""
    out.print(f"workspace {ws.root}", markup=False)
    out.print("models:", markup=False)
    for m in st["models"]:
        if not m["present"]:
            say(f"  {m['name']:<8} none  {stale(m['stale'])}")
            continue
        made = (f"{m['steps']} steps" if m["steps"] is not None else "steps unknown") + (
            "  imported" if m["imported"] is not None else "")
        key = f"fingerprint {m['fingerprint'][:12]}" if m["fingerprint"] else "no fingerprint"
        say(f"  {m['name']:<8} {made}  {key}  {stale(m['stale'])}")
    pr = st["projection"]
    say(f"projection: {pr['projected']} of {pr['ingested']} ingested photos projected ({pr['shards']} shards)  "
        f"{stale(pr['stale'])}")
    out.print("edits:", markup=False)
    print_edits(ws, st["edits"], indent="  ")


def print_edit(ws: Workspace, name: str, summary: dict) -> None:
    """The end of a run: edited / skipped / flagged counts, each photo that was not plainly edited with its
    reason (the first NOTES_SHOWN per status), the verdict. An edit that edited no photo is a failure: one
    `error:` line with the commonest reason, exit 1 (the results stay, for the report)."""
    from tasks.review import nothing_edited, outcome

    made = outcome(ws, name)
    counts = made["status"]
    failure = nothing_edited(name, made)
    if failure is not None:
        raise OneEditError(f"{failure} (every photo's reason: {ws.edit(name).results})")
    others = "".join(f", {counts[s]} {s}" for s in ("clamped", "rejected") if counts.get(s))
    out.print(f"edit {name!r}: {counts.get('edited', 0)} edited, {counts.get('skipped', 0)} skipped, "
              f"{counts.get('flagged', 0)} flagged{others}; results in {ws.edit(name).results}", markup=False)
    for status in ("flagged", "clamped", "skipped", "rejected"):
        notes = [(f, r) for f, s, r in made["notes"] if s == status]
        for path, reason in notes[:NOTES_SHOWN]:
            say(f"  {status} {path}: {reason}")
        if len(notes) > NOTES_SHOWN:
            out.print(f"  ({len(notes) - NOTES_SHOWN} more {status}: status {status!r} in results.parquet)",
                      markup=False, highlight=False)
    verdict = summary["final_state"]
    if verdict["landed"] is not None:
        word = "landed" if verdict["landed"] else "did NOT land"
        out.print(f"final state: the edit {word} (the outputs are {verdict['final_state_ratio']:.2f}x as far from the "
                  f"example's final state as the originals, {verdict['reading']}; {verdict['n_landed']} of "
                  f"{verdict['final_state_photos']} photos landed, {verdict['n_short']} short)", markup=False)
    for warning in verdict["warnings"]:
        warn(warning)  # one line each


def skipped(summary: dict) -> str:
    """The saved edits a flow left alone, each with its reason."""
    return "".join(f"; skipped {name}: {reason}" for name, reason in summary.get("skipped", {}).items())
