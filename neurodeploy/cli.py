"""The ``neurodeploy`` command line: compile, inspect, targets.

User errors print as ``error: ...`` (one line per problem) with exit code 2 and no traceback; ``--debug``
shows the traceback. Unexpected failures exit with 3.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
CODINGS = ("rate", "ttfs", "sc-ttfs")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 1,8,8") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 1,8,8")
    return shape


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_compile(args) -> int:
    from neurodeploy.compile import CompileRequest, compile_model
    from neurodeploy.models import DEFAULT_MODEL
    from neurodeploy.report import render_text

    model = args.model or DEFAULT_MODEL
    options = {"num_steps": args.steps, "percentile": args.percentile, "encoding": args.encoding,
               "maxpool": args.maxpool, "v_init": args.v_init, "reset": args.reset, "coding": args.coding,
               "finetune_epochs": args.finetune_epochs}
    conversion = {k: v for k, v in options.items() if v is not None}  # unset: the target's or the default
    request = CompileRequest(
        model=model, output=args.output or Path("build") / Path(model).stem, target=args.target,
        definition=args.definition, input_shape=args.input_shape, dataset=args.dataset,
        calibration_samples=args.calibration_samples, eval_samples=args.eval_samples, conversion=conversion)
    if args.target == "all":
        from neurodeploy.compile import compile_all
        from neurodeploy.report.targets import render_targets_text

        print(render_targets_text(compile_all(request, say=_say)))
        print(f"\nbuilds written to {request.output}/<target>/ and the table to {request.output}/report.json")
        return 0
    report = compile_model(request, say=_say)
    print(render_text(report))
    files = ", ".join(sorted(p.name for p in request.output.iterdir()))
    print(f"\nbuild written to {request.output}/ ({files})")
    return 0


def _windows(text: str) -> tuple[int, ...]:
    try:
        windows = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of windows like 4,8,16") from None
    if not windows or min(windows) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of windows like 4,8,16")
    return windows


def cmd_codings(args) -> int:
    from neurodeploy.compile import CompileRequest
    from neurodeploy.models import DEFAULT_MODEL
    from neurodeploy.report.codings import DEFAULT_SWEEPS, compare_codings, render_codings_text

    model = args.model or DEFAULT_MODEL
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


def cmd_report(args) -> int:
    """Re-print the report of a build folder (one target, or the table of --target all)."""
    import json

    from neurodeploy.errors import InputError
    from neurodeploy.report import render_text
    from neurodeploy.report.targets import render_targets_text

    path = args.build / "report.json"
    if not path.is_file():
        raise InputError(f"{args.build} is not a build folder (no report.json)")
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from e
    print(render_targets_text(report) if "targets" in report else render_text(report))
    return 0


def _load_for_inspect(path: Path):
    from neurodeploy.errors import InputError
    from neurodeploy.frontend.onnx_import import load_onnx

    if path.is_dir():
        if not (path / "snn.onnx").is_file():
            raise InputError(f"{path}: not a build folder (no snn.onnx)")
        path = path / "snn.onnx"
    if path.suffix == ".net":
        from neurodeploy.frontend.netx import load_netx

        return load_netx(path)
    if path.suffix != ".onnx":
        raise InputError(f"{path}: inspect reads .onnx files, lava-dl .net files or build folders")
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
    import json

    from neurodeploy.run import RUNNERS, render_run, run_build

    runners = list(RUNNERS) if args.backend == "both" else [args.backend]
    result = run_build(args.build, runners, args.samples, say=_say)
    out = args.output or args.build / f"run-{args.backend}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(render_run(result))
    print(f"\nper-sample results written to {out}")
    disagree = [k for k, v in result.get("agreement", {}).items() if v["differing_entries"]]
    return 1 if disagree else 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(prog="neurodeploy", parents=[common],
                                     description="Deploy PyTorch/ONNX networks onto neuromorphic chips.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", parents=[common], help="import, convert to an SNN, simulate, report")
    p.add_argument("model", nargs="?", help="zoo name, .onnx file, or .pt checkpoint (default: digits_cnn)")
    p.add_argument("-o", "--output", type=Path, help="build folder (default: build/<model>)")
    p.add_argument("--target", default="ref", help="backend (see 'neurodeploy targets'), or 'all' for one row per chip")
    p.add_argument("--definition", help="model definition of a .pt checkpoint: zoo name or file.py:Class")
    p.add_argument("--input-shape", type=_shape, help="per-sample input shape, e.g. 1,8,8")
    p.add_argument("--dataset", help="'digits' or a .npz file with x_train, y_train, x_test, y_test")
    p.add_argument("--coding", choices=CODINGS, help="spike coding (default rate; "
                   "ttfs / sc-ttfs: time-to-first-spike, papers/001)")
    p.add_argument("--steps", type=int, help="time steps T: of the SNN for rate coding (default 32; truenorth 64), "
                   "of each layer's window for ttfs / sc-ttfs")
    p.add_argument("--finetune-epochs", type=int, help="epochs of threshold fine-tuning for ttfs / sc-ttfs "
                   "(default 10; 0 = thresholds from activation statistics only)")
    p.add_argument("--percentile", type=float,
                   help="activation percentile for thresholds (default 99.9; the Loihi targets use 100)")
    p.add_argument("--reset", choices=("subtract", "zero"), help="IF reset (default subtract; Loihi: zero)")
    p.add_argument("--v-init", type=float, help="initial membrane potential / threshold (default 0.5)")
    p.add_argument("--encoding", choices=("direct", "bernoulli", "poisson"))
    p.add_argument("--maxpool", choices=("error", "avg"), help="MaxPool: refuse (default) or replace by "
                   "average pooling")
    p.add_argument("--calibration-samples", type=int, default=512)
    p.add_argument("--eval-samples", type=int, help="test samples to evaluate (default: whole test split)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("codings", parents=[common], help="rate vs TTFS vs SC-TTFS on one target (papers/001 Table 2)")
    p.add_argument("model", nargs="?", help="zoo name, .onnx file, or .pt checkpoint (default: digits_cnn)")
    p.add_argument("-o", "--output", type=Path, help="folder (default: build/<model>-codings)")
    p.add_argument("--target", default="loihi2", help="target whose simulator measures accuracy (default loihi2)")
    p.add_argument("--definition", help="model definition of a .pt checkpoint")
    p.add_argument("--dataset", help="'digits' or a .npz file")
    p.add_argument("--codings", nargs="+", choices=CODINGS, default=list(CODINGS))
    for coding in CODINGS:
        p.add_argument(f"--{coding}-steps", type=_windows, help=f"windows T to try for {coding}, ascending "
                       "(first lossless one is kept)")
    p.add_argument("--tolerance", type=float, default=0.0, help="accuracy points below the ANN that still count "
                   "as lossless (default 0)")
    p.add_argument("--finetune-epochs", type=int, help="threshold fine-tuning epochs for ttfs / sc-ttfs")
    p.add_argument("--eval-samples", type=int, help="test samples to evaluate (default: whole test split)")
    p.set_defaults(func=cmd_codings)

    p = sub.add_parser("run", parents=[common], help="run a Loihi build on the golden simulator and/or Lava")
    p.add_argument("build", type=Path, help="build folder written by 'compile --target loihi2' (or loihi1)")
    p.add_argument("--backend", choices=("golden", "lava", "both"), default="both")
    p.add_argument("--samples", type=int, default=20, help="test samples to run (default 20)")
    p.add_argument("-o", "--output", type=Path, help="JSON results (default BUILD/run-BACKEND.json)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", parents=[common], help="per-node op, shape, neurons, synapses, parameters")
    p.add_argument("file", type=Path, help=".onnx file, lava-dl netx .net file, or build folder")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("report", parents=[common], help="re-print the report of a build folder")
    p.add_argument("build", type=Path, help="build folder written by 'compile' (one target, or --target all)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("targets", parents=[common], help="registered backends and their spec files")
    p.set_defaults(func=cmd_targets)
    return parser


def main(argv: list[str] | None = None) -> int:
    from neurodeploy.errors import NeurodeployError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NeurodeployError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: say so plainly, keep the traceback for --debug
        if args.debug:
            raise
        print(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
