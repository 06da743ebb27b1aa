"""``fmnist-book``: fill the store, rerun or publish chapters, report what is missing, benchmark.

    fmnist-book status baseline_vs_deeper --profile paper
    fmnist-book train baseline_vs_deeper --profile paper --workers 2
    fmnist-book train lightweight_benchmark --only mobilenet_lite-bba104152c80   # chosen runs only
    fmnist-book run baseline_vs_deeper -o out.ipynb -p profile quick -p epochs 2
    fmnist-book publish            # execute every chapter from the store into book/
    fmnist-book time --profile smoke   # measure each chapter's wall time from an empty store
    fmnist-book verify             # every stored run against the current code and its own predictions
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

from .store import REPO_ROOT

BOOK_DIR = REPO_ROOT / "book"


def chapter_module(name: str):
    from .experiments import CHAPTERS

    if name not in CHAPTERS:
        raise SystemExit(f"unknown chapter {name!r}; chapters: {', '.join(CHAPTERS)}")
    return CHAPTERS[name]


# A chapter module's notebook: book/NN_<name>.ipynb for a study's chapter, book/appendix_<name>.ipynb for an
# appendix with runs and claims of its own (after the numbered chapters in the book's order).
NOTEBOOK_PATTERNS = ("[0-9][0-9]_{name}.ipynb", "appendix_{name}.ipynb")


def chapter_name(notebook: Path) -> str:
    """The chapter module a notebook belongs to: ``01_baseline_vs_deeper`` -> ``baseline_vs_deeper``,
    ``appendix_bfloat16_cost`` -> ``bfloat16_cost``."""
    stem = notebook.stem
    return stem.removeprefix("appendix_") if stem.startswith("appendix_") else stem[3:]


def chapter_notebooks() -> dict[str, Path]:
    """Every chapter's notebook by chapter name, in the book's order: the numbered chapters, then the appendices."""
    found = {}
    for pattern in NOTEBOOK_PATTERNS:
        for path in sorted(BOOK_DIR.glob(pattern.format(name="*"))):
            found[chapter_name(path)] = path
    return found


def chapter_notebook(name: str) -> Path:
    matches = sorted(path for pattern in NOTEBOOK_PATTERNS for path in BOOK_DIR.glob(pattern.format(name=name)))
    if not matches:
        raise SystemExit(f"no notebook book/NN_{name}.ipynb or book/appendix_{name}.ipynb")
    return matches[0]


def parse_value(text: str):
    """``-p epochs 2`` -> 2, ``-p seeds "[1, 2]"`` -> [1, 2]; anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def overrides(pairs: list[list[str]] | None) -> dict:
    return {name: parse_value(value) for name, value in (pairs or [])}


def settings_for(args):
    module = chapter_module(args.chapter)
    namespace = {"profile": args.profile, **overrides(args.parameter)}
    return module, module.settings_from(namespace)


def cmd_status(args) -> int:
    from .benchmark import last_result
    from .config import RunConfig
    from .epochs import trained_by
    from .report import CostModel, checkpoint_text, core_hours_text, run_core_hours_text
    from .store import MissingRun, ResultStore

    module, settings = settings_for(args)
    store = ResultStore(settings.store_dir)
    costs = CostModel(store, last_result())
    missing = []
    unique = {store.key(c): c for c, _ in module.plan(settings)}  # ablation grids repeat main runs
    for config in unique.values():
        state = store.status(config)
        if isinstance(state, MissingRun):
            costs.add_checkpoint(state)
            missing.append(cost := costs.estimate(state))
            done = f" ({state.checkpoint_epochs}/{config.epochs} epochs checkpointed)" if state.checkpoint_epochs else ""
            if isinstance(config, RunConfig) and (holder := trained_by(store.checkpoint_path(config))):
                done += f" [training now: {holder}]"
            print(f"missing  {state.key}{done}  core-hours (expected / at most): {run_core_hours_text(cost)}"
                  f"  checkpoint: {checkpoint_text(config)}")
        else:
            print(f"stored   {state.key}  accuracy {state.metrics['accuracy']:.4f}")
    print(f"{len(missing)} missing" + (f", core-hours (expected / at most): {core_hours_text(tuple(missing))}"
                                       if missing else ""))
    return 0


def selected_runs(chapter: str, runs: list, store, only: list[str] | None) -> list:
    """The planned runs named by ``--only`` (in the order given), or all of them."""
    if not only:
        return runs
    by_key = {store.key(config): (config, weights) for config, weights in runs}
    unknown = [key for key in only if key not in by_key]
    if unknown:
        raise ValueError(f"not a run of {chapter} with these settings: {', '.join(unknown)}; "
                         f"`fmnist-book status {chapter}` (with the same --profile and -p) lists its runs")
    return [by_key[key] for key in dict.fromkeys(only)]


def cmd_train(args) -> int:
    from .store import ResultStore
    from .sweep import run_sweep

    module, settings = settings_for(args)
    store = ResultStore(settings.store_dir)
    runs = selected_runs(args.chapter, module.plan(settings), store, args.only)
    workers = args.workers or settings.workers
    if hasattr(module, "fill_store") and args.executor == "local":
        module.fill_store(settings, store, workers, runs if args.only else None)
        missing = [c for c, _ in runs if store.get(c) is None]
        print(f"{len(runs) - len(missing)} runs in the store, {len(missing)} missing")
        return 1 if missing else 0
    outcomes = run_sweep([c for c, _ in runs], store, executor=args.executor, address=args.address,
                         workers=workers, threads_per_worker=args.threads,
                         device="cpu" if settings.device == "auto" else settings.device,
                         save_weights={store.key(c) for c, weights in runs if weights})
    unique = {o.key: o for o in outcomes}  # ablation grids repeat runs
    stored = {key for key, o in unique.items() if o.ok and store.get(o.config) is not None}  # what is there
    lost = [key for key, o in unique.items() if o.ok and key not in stored]
    if lost:
        print(f"reported finished but not in {store.root}: {', '.join(lost)}")
    failed = len(unique) - len(stored)
    print(f"{len(stored)} runs in the store, {failed} failed")
    return 1 if failed else 0


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path) -> None:
    import papermill

    papermill.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(cwd),
                               kernel_name="python3", progress_bar=False)


HIDE_INPUT, SHOW_INPUT, PARAMETERS = "hide-input", "show-input", "parameters"


def strip_volatile_metadata(notebook: dict) -> None:
    """Drop papermill's timing metadata so a republished chapter diffs only where results changed."""
    notebook["metadata"].pop("papermill", None)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)


def fold_code(notebook: dict) -> None:
    """Fold the code of every code cell in the rendered book (Jupyter Book's ``hide-input`` tag: one
    click shows it), except where the code is the point: the ``parameters`` cell and cells tagged
    ``show-input``. A reader scrolls from result to result; nbval ignores tags."""
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.setdefault("metadata", {}).get("tags", [])
        shown = PARAMETERS in tags or SHOW_INPUT in tags
        cell["metadata"]["tags"] = [t for t in tags if t != HIDE_INPUT] + ([] if shown else [HIDE_INPUT])


def finish_published(path: Path) -> None:
    """A chapter just executed in place, made ready to commit: volatile metadata dropped, code folded."""
    notebook = json.loads(path.read_text())
    strip_volatile_metadata(notebook)
    fold_code(notebook)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def cmd_run(args) -> int:
    notebook = chapter_notebook(args.chapter)
    output = Path(args.output)
    execute(notebook, output, overrides(args.parameter), BOOK_DIR)
    print(f"wrote {output}")
    return 0


def cmd_publish(args) -> int:
    from .experiments import CHAPTERS
    from .report import record_timing
    from .store import ResultStore

    for name in args.chapters or list(CHAPTERS):
        notebook = chapter_notebook(name)
        print(f"executing {notebook.relative_to(REPO_ROOT)} (profile paper, from the store)")
        start = time.perf_counter()
        execute(notebook, notebook, {}, BOOK_DIR)
        record_timing(ResultStore().root, notebook.stem, "paper", time.perf_counter() - start)
        finish_published(notebook)
    return cmd_scorecard(args)


def cmd_time(args) -> int:
    """Execute chapters with a profile into an empty store and record the wall time of each."""
    from .experiments import CHAPTERS
    from .report import record_timing
    from .store import ResultStore

    for name in args.chapters or list(CHAPTERS):
        notebook = chapter_notebook(name)
        with tempfile.TemporaryDirectory(prefix="fmnist-time-") as scratch:
            print(f"executing {notebook.relative_to(REPO_ROOT)} (profile {args.profile}, empty store)", flush=True)
            start = time.perf_counter()
            execute(notebook, Path(scratch) / notebook.name,
                    {"profile": args.profile, "store_dir": str(Path(scratch) / "store"), "progress": False}, BOOK_DIR)
            seconds = time.perf_counter() - start
        record_timing(ResultStore().root, notebook.stem, args.profile, seconds)
        print(f"  {seconds:.0f} s")
    return cmd_scorecard(args)


SCORECARD = BOOK_DIR / "scorecard.md"
COMPUTE = BOOK_DIR / "compute.md"
SPEED = BOOK_DIR / "speed.md"
EXAMPLES = BOOK_DIR / "verdict_examples.md"
FINDINGS = BOOK_DIR / "findings.md"
GENERATED = "<!-- Generated by `fmnist-book scorecard` from book/results; do not edit. -->\n\n"


def report_texts() -> dict[Path, str]:
    """The generated pages: book/scorecard.md, the front page's findings and worked examples from the
    chapters' saved claims, book/compute.md from the store and its timings, book/speed.md from the last
    benchmark."""
    from .benchmark import last_result, speed_markdown
    from .claims import findings_markdown, scorecard_markdown, verdict_examples_markdown
    from .experiments import CHAPTERS
    from .report import compute_markdown
    from .store import ResultStore

    root = ResultStore().root
    in_book_order = {chapter_notebook(name).stem: CHAPTERS[name]
                     for name in sorted(CHAPTERS, key=lambda n: chapter_notebook(n).name)}
    benchmark = last_result()
    return {SCORECARD: GENERATED + scorecard_markdown(root),
            COMPUTE: GENERATED + compute_markdown(root, in_book_order, benchmark),
            SPEED: GENERATED + speed_markdown(benchmark),
            EXAMPLES: GENERATED + verdict_examples_markdown(root),
            FINDINGS: GENERATED + findings_markdown(root)}


VERDICT_FIGURE = BOOK_DIR / "figures" / "verdicts.png"


def verdict_figure_png() -> bytes:
    """The introduction's figure of every numeric claim, as PNG bytes (no metadata: identical for identical data)."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    from .claims import load_claims
    from .plots import verdict_overview
    from .store import ResultStore

    matplotlib.use("Agg")
    fig = verdict_overview(load_claims(ResultStore().root))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # at plots.DPI, sized for the text column
    plt.close(fig)
    return buffer.getvalue()


def write_reports() -> list[Path]:
    texts = report_texts()
    for path, text in texts.items():
        path.write_text(text)
    VERDICT_FIGURE.parent.mkdir(exist_ok=True)
    VERDICT_FIGURE.write_bytes(verdict_figure_png())
    return [*texts, VERDICT_FIGURE]


def cmd_scorecard(args) -> int:
    for path in write_reports():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


def cmd_verify(args) -> int:
    """Check every stored run against the current code and its own predictions; with --update, re-record the
    fingerprint of runs whose code changed while their model computes the same on the probe."""
    from .store import ResultStore, stale_message

    store = ResultStore(args.store)
    entries = store.entries()
    if args.keys:
        unknown = sorted(set(args.keys) - {run.key for run in entries})
        if unknown:
            raise ValueError(f"no stored run {', '.join(unknown)} in {store.runs_dir}")
        entries = [run for run in entries if run.key in args.keys]
    recorded = [run.key for run in entries if args.update and store.record_fingerprint(run)]
    for key in recorded:
        print(f"recorded the current code's fingerprint for {key}")
    problems = {run.key: found for run in entries if (found := store.verify(run))}
    if problems:
        print(stale_message(problems), file=sys.stderr)
        return 1
    print(f"{len(entries)} stored runs verified: each matches the current code, and its metrics match its predictions")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fmnist-book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def chapter_args(p):
        p.add_argument("chapter")
        p.add_argument("--profile", default="paper", help="paper | quick | smoke")
        p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="override a chapter parameter (as papermill's -p)")

    p = sub.add_parser("status", help="list the chapter's runs: stored or missing")
    chapter_args(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("train", help="train every run of the chapter the store lacks (resumable)")
    chapter_args(p)
    p.add_argument("--workers", type=int, default=None, help="processes side by side (default: one per core)")
    p.add_argument("--threads", type=int, default=1, help="threads per process")
    p.add_argument("--executor", default="local", choices=("local", "dask"))
    p.add_argument("--address", default=None, help="dask scheduler address, with --executor dask")
    p.add_argument("--only", nargs="+", metavar="KEY", default=None,
                   help="train only these runs, in this order (keys as `status` prints them)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("run", help="execute a chapter with papermill into a new notebook")
    p.add_argument("chapter")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("publish", help="execute chapters in place from the store (profile paper); "
                                       "fold their code in the book, except parameters and show-input cells")
    p.add_argument("chapters", nargs="*")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("time", help="execute chapters with a profile from an empty store; record wall times")
    p.add_argument("chapters", nargs="*")
    p.add_argument("--profile", default="smoke", choices=("smoke", "quick"))
    p.set_defaults(func=cmd_time)
    p = sub.add_parser("scorecard", help="rebuild book/scorecard.md, compute.md and speed.md from the store")
    p.set_defaults(func=cmd_scorecard)
    p = sub.add_parser("verify", help="check every stored run against the current code and its predictions")
    p.add_argument("keys", nargs="*", help="only these runs (default: every stored run)")
    p.add_argument("--store", default=None, help="results store folder (default: book/results)")
    p.add_argument("--update", action="store_true",
                   help="re-record runs whose code changed while their model still computes the same on the probe "
                        "(never a classical baseline: it has no probe)")
    p.set_defaults(func=cmd_verify)
    sub.add_parser("benchmark", help="engine vs reference pipeline, bfloat16 vs float32, GFLOP/s vs the CPU's peak "
                                     "(see `benchmark --help`)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["benchmark"]:  # the benchmark parses its own options
        from .benchmark import main as benchmark_main

        # book/speed.md and compute.md follow the book's benchmark.json, and only that file
        return benchmark_main(argv[1:], render_book=lambda: cmd_scorecard(None))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:  # parameter and configuration errors: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
