"""The ``neurodeploy`` command line: compile, codings, run, inspect, report, targets.

User errors print as ``error: ...`` (one line per problem) with exit code 2 and no traceback; ``--debug`` (before
or after the sub-command) shows the traceback. Options are checked when they are parsed, before any work starts.
Unexpected failures exit with 3; SIGINT and SIGTERM unwind (temporary folders are removed) and exit 130 / 143.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
import warnings
from pathlib import Path

from neurodeploy.limits import MAX_INPUT_ELEMENTS, MAX_STEPS

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
CODINGS = ("rate", "ttfs", "sc-ttfs")


class _Parser(argparse.ArgumentParser):
    """argparse with the toolkit's error format: the usage line, then ``error: ...``, exit 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message}\n")


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty")
    return text


def _path(text: str) -> Path:
    return Path(_text(text))


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive count")
    return value


def _steps(text: str) -> int:
    value = _positive(text)
    if value > MAX_STEPS:
        raise argparse.ArgumentTypeError(f"{value} steps is more than the {MAX_STEPS} neurodeploy simulates")
    return value


def _non_negative(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def _dt(text: str) -> float:
    value = _finite(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} s is not a time step in (0, 1] seconds")
    return value


def _percentile(text: str) -> float:
    value = _finite(text)
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not a percentile in (0, 100]")
    return value


def _v_init(text: str) -> float:
    value = _finite(text)
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction of the threshold in [-1, 1]")
    return value


def _tolerance(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not a number of accuracy points in [0, 100]")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 1,8,8") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 1,8,8")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise argparse.ArgumentTypeError(f"{text} holds {math.prod(shape)} values per sample, more than the "
                                         f"{MAX_INPUT_ELEMENTS} neurodeploy accepts")
    return shape


_QUIET = False  # --quiet: no step lines and no progress bars on stderr (errors still print)


def _say(message: str) -> None:
    if not _QUIET:
        print(message, file=sys.stderr, flush=True)


NIR_OPTIONS = ("dt", "integration")  # and --reset, which a NIR file's neurons take instead of conversion
from neurodeploy.api import CONVERSION_OPTIONS  # noqa: E402  (the Python API's option names are the CLI's)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _ignored_options(args, model: str) -> list[str]:
    """Options given that this kind of model would ignore: refused, never dropped in silence."""
    from neurodeploy.models import ZOO

    given = lambda *dests: [d for d in dests if getattr(args, d, None) is not None]
    kind = Path(model).suffix
    if kind == ".net" and "codings" in vars(args):
        return [f"{model}: a netx .net network already spikes in Loihi arithmetic; 'codings' compares how an ANN is "
                "converted (rate, TTFS, SC-TTFS), so give the ANN it came from"]
    if kind in (".net", ".nir") and "codings" in vars(args):
        return [f"{model}: a trained SNN has no ANN to convert; 'codings' compares conversions of an ANN"]
    if kind == ".net":
        reason = "a netx .net network already spikes in Loihi arithmetic: nothing is converted or calibrated"
        return [f"{_flag(d)}: {reason}" for d in given(*[d for d in CONVERSION_OPTIONS if d != "steps"], *NIR_OPTIONS,
                                                      "definition", "calibration_samples")]
    if kind == ".nir":
        reason = "a NIR file is a trained SNN: nothing is converted"
        return [f"{_flag(d)}: {reason}" for d in given(*[d for d in CONVERSION_OPTIONS if d not in ("steps", "reset")],
                                                      "definition", "input_shape")]
    problems = [f"{_flag(d)}: only a NIR .nir file is read with a time step and an integration rule"
                for d in given(*NIR_OPTIONS)]
    if getattr(args, "reset", None) not in (None, "subtract", "zero"):
        problems.append(f"--reset {args.reset}: only NIR files take it (conversion resets by subtraction or to zero, "
                        "at once)")
    if model in ZOO or kind == ".onnx":
        problems += [f"--definition: {model} brings its own definition; --definition goes with a .pt checkpoint"
                     for _ in given("definition")]
    if kind == ".onnx":
        problems += ["--input-shape: an ONNX file declares its input shape; --input-shape goes with zoo models "
                     "and .pt checkpoints" for _ in given("input_shape")]
    if (getattr(args, "coding", None) or "rate") == "rate" and "codings" not in vars(args):
        problems += ["--finetune-epochs: fine-tuning trains the thresholds of ttfs / sc-ttfs; rate coding has none "
                     "(give --coding ttfs or sc-ttfs)" for _ in given("finetune_epochs")]
    return problems


def _refuse_ignored_options(args, model: str) -> None:
    from neurodeploy.errors import InputError

    problems = _ignored_options(args, model)
    if problems:
        raise InputError(f"options that do not apply to {model}:", problems)


def cmd_compile(args) -> int:
    """``neurodeploy compile``: the Python API's compile (neurodeploy.api) with the command line's options."""
    from neurodeploy.api import compile as compile_model
    from neurodeploy.models import DEFAULT_MODEL
    from neurodeploy.report import render_text
    from neurodeploy.report.targets import render_targets_text

    model = args.model or DEFAULT_MODEL
    _refuse_ignored_options(args, model)
    target = args.target or ("loihi2" if Path(model).suffix == ".net" else "ref")
    options = {name: getattr(args, name) for name in CONVERSION_OPTIONS}  # unset: the target's or the default
    snn_import = {}
    if Path(model).suffix == ".nir":
        snn_import = {k: getattr(args, k) for k in (*NIR_OPTIONS, "reset") if getattr(args, k) is not None}
        options.pop("reset", None)
    output = args.output or Path("build") / Path(model).stem
    result = compile_model(model, data=args.dataset, target=target, output=output, input_shape=args.input_shape,
                           definition=args.definition, eval_samples=args.eval_samples,
                           calibration_samples=args.calibration_samples, snn_import=snn_import, say=_say,
                           **options)
    if target == "all":
        print(render_targets_text(result.report))
        print(f"\nbuilds written to {output}/<target>/ and the table to {output}/report.json")
        failed = result.report["failed_targets"]
        if failed:
            _say(f"error: {len(failed)} of {len(result.report['targets'])} targets failed ({', '.join(failed)}); "
                 "their errors are listed above")
            return EXIT_USER_ERROR
        return 0
    print(render_text(result.report))
    files = ", ".join(sorted(p.name for p in output.iterdir()))
    print(f"\nbuild written to {output}/ ({files})")
    return 0


def _windows(text: str) -> tuple[int, ...]:
    try:
        windows = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of windows like 4,8,16") from None
    if not windows or min(windows) < 1 or max(windows) > MAX_STEPS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of windows like 4,8,16 (each 1..{MAX_STEPS})")
    return tuple(sorted(set(windows)))  # tried in ascending order whatever the order given


def cmd_codings(args) -> int:
    from neurodeploy.pipeline import CompileRequest
    from neurodeploy.models import DEFAULT_MODEL
    from neurodeploy.report.codings import DEFAULT_SWEEPS, compare_codings, render_codings_text

    model = args.model or DEFAULT_MODEL
    _refuse_ignored_options(args, model)
    sweeps = {coding: getattr(args, f"{coding.replace('-', '_')}_steps") or DEFAULT_SWEEPS[coding]
              for coding in args.codings}
    conversion = {} if args.finetune_epochs is None else {"finetune_epochs": args.finetune_epochs}
    request = CompileRequest(model=model, output=args.output or Path("build") / f"{Path(model).stem}-codings",
                             target=args.target, definition=args.definition, dataset=args.dataset,
                             eval_samples=args.eval_samples, conversion=conversion)
    summary = compare_codings(request, sweeps, args.tolerance, say=_say)
    print(render_codings_text(summary))
    print(f"\ntable written to {request.output}/comparison.json and comparison.md; builds in "
          f"{request.output}/<coding>-T<T>/")
    return 0


def cmd_benchmark(args) -> int:
    """papers/000's six-model study, every model on every chip, and its trade-off sweeps (docs/benchmark.md)."""
    from neurodeploy.backends import BACKENDS
    from neurodeploy.benchmark import BenchmarkRequest, run_benchmark
    from neurodeploy.errors import InputError

    unknown = [t for t in args.targets or () if t not in BACKENDS]
    if unknown:
        raise InputError(f"--targets: unknown target(s) {', '.join(unknown)}; registered: {', '.join(BACKENDS)}")
    request = BenchmarkRequest(output=args.output or Path("build") / "benchmark", retrain=args.retrain,
                               eval_samples=args.eval_samples, jobs=args.jobs,
                               targets=tuple(dict.fromkeys(["ref"] + list(args.targets))) if args.targets else (),
                               sweeps=not args.no_sweeps)
    report = run_benchmark(request, say=_say)
    print((request.output / "benchmark.md").read_text())
    print(f"written to {request.output}/benchmark.json and benchmark.md in {report['wall_s']:.0f} s")
    return 0


def cmd_report(args) -> int:
    """Re-print the report of a build folder (one target, or the table of --target all)."""
    from neurodeploy.report.schema import load_build_report, render_any

    print(render_any(load_build_report(args.build)))
    return 0


def _load_for_inspect(path: Path):
    """The graph of an .onnx or .net file, or of a build folder (its float SNN, else its deployed graph), whose
    files must be the ones its report lists."""
    from neurodeploy.errors import InputError
    from neurodeploy.frontend.onnx_import import load_onnx

    if path.is_dir():
        from neurodeploy.report.schema import load_build_report

        load_build_report(path)
        graphs = [path / name for name in ("snn.onnx", "deployed.onnx") if (path / name).is_file()]
        if not graphs:
            raise InputError(f"{path}: a build folder without a graph (no snn.onnx or deployed.onnx); with "
                             "--target all, inspect one of its target folders")
        path = graphs[0]
    if path.suffix == ".net":
        from neurodeploy.frontend.netx import load_netx

        return load_netx(path)
    if path.suffix == ".nir":
        from neurodeploy.frontend.nir_import import load_nir

        return load_nir(path)
    if path.suffix != ".onnx":
        raise InputError(f"{path}: inspect reads .onnx files, lava-dl .net files, NIR .nir files or build folders")
    return load_onnx(path)


def cmd_inspect(args) -> int:
    from neurodeploy.ir.summary import summarize
    from neurodeploy.report import text_table

    g = _load_for_inspect(args.file)
    rows = summarize(g)
    print(f"{args.file}: graph '{g.name}', {len(g.nodes)} nodes, inputs "
          + ", ".join(f"{k} {t}" for k, t in g.inputs.items()))
    print(text_table(("name", "op", "shape", "neurons", "synapses", "parameters"),
                     [[r.name, r.op, r.shape, r.neurons, r.synapses, r.parameters] for r in rows]))
    print(f"total: {sum(r.neurons for r in rows)} neurons, {sum(r.synapses for r in rows)} synapses, "
          f"{sum(r.parameters for r in rows)} parameters")
    return 0


def cmd_targets(args) -> int:
    from neurodeploy.backends import BACKENDS, spec_path
    from neurodeploy.report import text_table
    from neurodeploy.spec import load_spec

    rows = []
    for name in sorted(BACKENDS):
        spec = load_spec(spec_path(name))
        rows.append([name, spec.title, str(spec_path(name))])
    print(text_table(("target", "title", "spec"), rows))
    return 0


def cmd_run(args) -> int:
    from neurodeploy.run import CHOICES, check_results_path, render_run, run_build, write_results

    runners = CHOICES[args.backend]
    out = args.output or args.build / f"run-{args.backend}.json"
    check_results_path(out)
    if args.sanafe_network is not None:
        from neurodeploy.errors import InputError

        if args.backend != "sanafe":
            raise InputError("--sanafe-network needs --backend sanafe")
        check_results_path(args.sanafe_network)
    result = run_build(args.build, runners, args.samples, say=_say, sanafe_network=args.sanafe_network)
    write_results(out, result)
    print(render_run(result))
    print(f"\nper-sample results written to {out}")
    disagree = [k for k, v in result.get("agreement", {}).items() if v["differing_entries"]]
    return 1 if disagree else 0


def build_parser() -> argparse.ArgumentParser:
    from neurodeploy import __version__
    from neurodeploy.frontend.nir_options import INTEGRATIONS as NIR_INTEGRATIONS
    from neurodeploy.frontend.nir_options import RESETS as NIR_RESETS

    # the sub-commands' --debug leaves the attribute alone unless given, so '--debug compile' and 'compile --debug'
    # both work (a plain default would reset what the main parser had set)
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no step lines or progress bars on stderr (bars only show on a terminal anyway)")
    parser = _Parser(prog="neurodeploy",
                                     description="Deploy PyTorch/ONNX networks onto neuromorphic chips.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--quiet", action="store_true", help="no step lines or progress bars on stderr")
    parser.add_argument("--version", action="version", version=f"neurodeploy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", parents=[common], help="import, convert to an SNN, simulate, report")
    p.add_argument("model", nargs="?", type=_text, help="zoo name, .onnx file, .net file, or .pt checkpoint "
                   "(default: digits_cnn)")
    p.add_argument("-o", "--output", type=_path, help="build folder (default: build/<model>)")
    p.add_argument("--target", type=_text, help="backend (see 'neurodeploy targets'), or 'all' for one row per chip (default ref; "
                   "loihi2 for a netx .net file, which is already in Loihi's arithmetic)")
    p.add_argument("--definition", type=_text, help="model definition of a .pt checkpoint: zoo name or file.py:Class")
    p.add_argument("--input-shape", type=_shape, help="per-sample input shape, e.g. 1,8,8")
    p.add_argument("--dataset", type=_text, help="'digits' or a .npz file with x_train, y_train, x_test, y_test")
    p.add_argument("--coding", choices=CODINGS, help="spike coding (default rate; "
                   "ttfs / sc-ttfs: time-to-first-spike, papers/001)")
    p.add_argument("--steps", type=_steps, help="time steps T: of the SNN for rate coding (default 32; truenorth 64), "
                   "of each layer's window for ttfs / sc-ttfs")
    p.add_argument("--finetune-epochs", type=_non_negative, help="epochs of threshold fine-tuning for ttfs / sc-ttfs "
                   "(default 10; 0 = thresholds from activation statistics only)")
    p.add_argument("--percentile", type=_percentile,
                   help="activation percentile for thresholds (default 99.9; the Loihi targets use 100)")
    p.add_argument("--reset", choices=sorted({"subtract", "zero"} | set(NIR_RESETS)), help="IF reset of conversion (default subtract; Loihi: zero); for a .nir "
                   "file the reset its neurons get (default zero; snntorch-*: reset at the next step, snnTorch's order)")
    p.add_argument("--v-init", type=_v_init, help="initial membrane potential / threshold, in [-1, 1] "
                   "(default 0.5)")
    p.add_argument("--encoding", choices=("direct", "bernoulli", "poisson"))
    p.add_argument("--maxpool", choices=("error", "avg"), help="MaxPool: refuse (default) or replace by "
                   "average pooling")
    p.add_argument("--dt", type=_dt, help="NIR: seconds per time step (default 1e-4, docs/nir.md)")
    p.add_argument("--integration", choices=NIR_INTEGRATIONS, help="NIR: how continuous-time decays become steps: "
                   "forward Euler dt/tau (default, as snnTorch), exact 1 - exp(-dt/tau), or impulse (Euler, with a "
                   "synaptic current jumping by its input: Norse's LIFCell); docs/nir.md")
    p.add_argument("--calibration-samples", type=_positive,
                   help="training samples that set the thresholds (default 512)")
    p.add_argument("--eval-samples", type=_positive, help="test samples to evaluate (default: whole test split)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("codings", parents=[common], help="rate vs TTFS vs SC-TTFS on one target (papers/001 Table 2)")
    p.add_argument("model", nargs="?", type=_text, help="zoo name, .onnx file, or .pt checkpoint (default: digits_cnn)")
    p.add_argument("-o", "--output", type=_path, help="folder (default: build/<model>-codings)")
    p.add_argument("--target", type=_text, default="loihi2", help="target whose simulator measures accuracy (default loihi2)")
    p.add_argument("--definition", type=_text, help="model definition of a .pt checkpoint")
    p.add_argument("--dataset", type=_text, help="'digits' or a .npz file")
    p.add_argument("--codings", nargs="+", choices=CODINGS, default=list(CODINGS))
    for coding in CODINGS:
        p.add_argument(f"--{coding}-steps", type=_windows, help=f"windows T to try for {coding}, ascending "
                       "(first lossless one is kept)")
    p.add_argument("--tolerance", type=_tolerance, default=0.0, help="accuracy points below the ANN that still count "
                   "as lossless (default 0)")
    p.add_argument("--finetune-epochs", type=_non_negative, help="threshold fine-tuning epochs for ttfs / sc-ttfs")
    p.add_argument("--eval-samples", type=_positive, help="test samples to evaluate (default: whole test split)")
    p.set_defaults(func=cmd_codings)

    p = sub.add_parser("benchmark", parents=[common], help="papers/000's six models (MLP and CNN) on frames and "
                       "events, with memory/compute metrics, on every chip, and the T / threshold sweeps")
    p.add_argument("-o", "--output", type=_path, help="folder for benchmark.json and benchmark.md "
                   "(default build/benchmark)")
    p.add_argument("--retrain", action="store_true", help="train every model again (default: reuse cached ones)")
    p.add_argument("--eval-samples", type=_positive, help="test samples per evaluation (default: whole test split)")
    p.add_argument("--jobs", type=_positive, default=2, help="worker processes (default 2)")
    p.add_argument("--targets", nargs="+", type=_text, help="targets to deploy on (default: every registered one)")
    p.add_argument("--no-sweeps", action="store_true", help="skip the trade-off sweeps over T and the threshold")
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("run", parents=[common], help="run a Loihi build on the golden simulator, Lava and/or SANA-FE")
    p.add_argument("build", type=_path, help="build folder written by 'compile --target loihi2' (or loihi1)")
    p.add_argument("--backend", choices=("golden", "lava", "both", "sanafe"), default="both",
                   help="both = golden and Lava; sanafe = golden and SANA-FE, with SANA-FE's energy and latency beside "
                        "neurodeploy's estimate")
    p.add_argument("--sanafe-network", type=_path, help="with --backend sanafe: also write the SANA-FE network (YAML)")
    p.add_argument("--samples", type=_positive, default=20, help="test samples to run (default 20)")
    p.add_argument("-o", "--output", type=_path, help="JSON results (default BUILD/run-BACKEND.json)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", parents=[common], help="per-node op, shape, neurons, synapses, parameters")
    p.add_argument("file", type=_path, help=".onnx file, lava-dl netx .net file, or build folder")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("report", parents=[common], help="re-print the report of a build folder")
    p.add_argument("build", type=_path, help="build folder written by 'compile' (one target, or --target all)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("targets", parents=[common], help="registered backends and their spec files")
    p.set_defaults(func=cmd_targets)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every cleanup (temporary build folders) runs."""


def _terminate(signum, frame):
    raise Terminated()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from neurodeploy.errors import NeurodeployError

    import threading

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version and option errors (already printed) end here, in-process too
        return e.code if isinstance(e.code, int) else EXIT_USER_ERROR
    global _QUIET
    from neurodeploy import progress

    _QUIET = args.quiet
    progress.enable(sys.stderr.isatty() and not args.quiet)  # bars on a terminal only, never into logs or pipes
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            if not args.debug:  # a loader's warning (e.g. a NIR file's metadata disagreeing) as one plain line
                warnings.showwarning = _show_warning
            return args.func(args)
    except NeurodeployError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except MemoryError:
        if args.debug:
            raise
        print("error: ran out of memory; try fewer --steps, --eval-samples or --calibration-samples",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as e:  # a bug: say so plainly, keep the traceback for --debug
        if args.debug:
            raise
        print(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
