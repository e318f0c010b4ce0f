"""report.schema.json: a valid Draft 2020-12 schema with a title and a description on every field; real reports of
every kind follow it; broken ones are refused with the field named; docs/report.md lists its fields."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.errors import InputError
from neurodeploy.report.schema import (SCHEMA_VERSION, _resolve, check_report, docs_with_tables, field_docs,
                                       report_problems, schema, titles)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "external"
NIR_FILE = SHARED / "nir" / "braille_noDelay_bias_zero.nir"
NETX_FILE = SHARED / "netx" / "tiny.net"
TARGETS = ("ref", "loihi1", "loihi2", "truenorth", "spinnaker1", "spinnaker2")


# ------------------------------------------------------------------------------------------------ the schema


def test_the_schema_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema()["properties"]["schema_version"]["enum"] == [SCHEMA_VERSION] == [schema()["x-schema-version"]]
    assert set(schema()["properties"]["report_kind"]["enum"]) <= set(schema()["$defs"])


def _unlabelled(node, path: str) -> list[str]:
    """Every field (a property, or the values of a data-keyed map) below ``node`` without a title or a
    description."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _unlabelled(item, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return []
    bad = []
    fields = [(f"{path}.properties.{k}", v) for k, v in node.get("properties", {}).items()]
    if isinstance(node.get("additionalProperties"), dict) and "properties" not in node:
        fields.append((f"{path}.additionalProperties", node["additionalProperties"]))
    for where, field in fields:
        field = _resolve(field)
        bad += [f"{where}: no {k}" for k in ("title", "description") if not str(field.get(k, "")).strip()]
    return bad + [p for k, v in node.items() if k != "if" for p in _unlabelled(v, f"{path}.{k}")]  # if: dispatch


def test_every_field_at_every_level_has_a_title_and_a_description():
    assert _unlabelled(schema(), "#") == []
    for name, definition in schema()["$defs"].items():
        assert definition.get("title") and definition.get("description"), name
    assert titles("build")["estimate.energy_uj"] == "chip energy per inference, total (µJ)"
    assert titles("build")["estimate.latency_us"] == "latency per inference (µs)"
    assert titles("build")["deployed.accuracy"] == "deployed accuracy (fraction 0-1)"
    assert titles("build")["deployed.spikes_per_inference"] == "spikes per inference (count)"
    assert "quantization[].vth" in field_docs("build") and "snn.thresholds.*" in field_docs("build")


def test_docs_list_every_field_as_the_schema_says():
    """docs/report.md holds the tables generated from the schema (python -m neurodeploy.report.schema --write)."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text(encoding="utf-8")
    assert docs_with_tables(docs) == docs, "docs/report.md is stale: python -m neurodeploy.report.schema --write"
    for kind in ("build", "targets", "codings", "benchmark", "run"):
        assert f"`report_kind: {kind}`" in docs
    assert "| `estimate.energy_uj` | number or null; optional | chip energy per inference, total (µJ) |" in docs


# ------------------------------------------------------------------------------------------------ real reports


def _events_npz(path: Path, steps: int, shape: tuple, classes: int) -> Path:
    rng = np.random.default_rng(8)
    x = lambda n: (rng.random((n, steps) + shape) < 0.3).astype(np.float32)
    np.savez(path, x_train=x(6), y_train=rng.integers(0, classes, 6), x_test=x(5), y_test=rng.integers(0, classes, 5))
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Report files of every kind, written by the real code (each write is checked by report_json as well):
    ``compile --target all`` of digits_mlp (a build per target and the summary), a trained SNN, a NIR and a netx
    import, a coding comparison, runs (golden, golden + Lava, SANA-FE) and a benchmark of two study rows."""
    import neurodeploy.benchmark as benchmark
    from neurodeploy.models import ZOO
    from neurodeploy.pipeline import CompileRequest, compile_all, compile_model
    from neurodeploy.report.codings import compare_codings
    from neurodeploy.run import CHOICES, run_build, write_results

    tmp = tmp_path_factory.mktemp("schema")
    quiet = lambda _: None
    files = {}
    compile_all(CompileRequest(model="digits_mlp", output=tmp / "all", target="all", eval_samples=20), quiet)
    files["targets"] = tmp / "all" / "report.json"
    files.update({f"build-{t}": tmp / "all" / t / "report.json" for t in TARGETS})
    compile_model(CompileRequest(model="digits_snn", output=tmp / "snn", target="loihi2", eval_samples=10), quiet)
    files["build-trained-snn"] = tmp / "snn" / "report.json"
    if NIR_FILE.is_file():
        data = _events_npz(tmp / "braille.npz", 30, (12,), 7)
        compile_model(CompileRequest(model=str(NIR_FILE), output=tmp / "nir", target="loihi2", dataset=str(data),
                                     snn_import={"dt": 1e-4}), quiet)
        files["build-nir"] = tmp / "nir" / "report.json"
    if NETX_FILE.is_file():
        compile_model(CompileRequest(model=str(NETX_FILE), output=tmp / "netx", target="loihi2"), quiet)
        files["build-netx"] = tmp / "netx" / "report.json"
    compare_codings(CompileRequest(model="digits_mlp", output=tmp / "codings", target="ref", eval_samples=20,
                                   conversion={"finetune_epochs": 1}), {"rate": (8,), "ttfs": (4,)}, 0.0, quiet)
    files["codings"] = tmp / "codings" / "comparison.json"
    from neurodeploy.backends.loihi.sanafe_run import sanafe_available

    runs = {"golden": "loihi2", "both": "loihi2", **({} if sanafe_available() else {"sanafe": "loihi1"})}
    for backend, target in runs.items():
        name = f"run-{backend}"
        write_results(tmp / f"{name}.json", run_build(tmp / "all" / target, CHOICES[backend], 2, say=quiet))
        files[name] = tmp / f"{name}.json"
    files["benchmark"] = _benchmark(tmp, benchmark, ZOO["digits_mlp"].checkpoint_path)
    return files


def _benchmark(tmp: Path, benchmark, checkpoint) -> Path:
    """``run_benchmark`` itself, with the training and the compiles replaced by the digits_mlp builds above (one
    chip refusing) and small sweeps of the converted SNN."""
    mp = pytest.MonkeyPatch()
    reports = {t: json.loads((tmp / "all" / t / "report.json").read_text()) for t in TARGETS}
    reports["truenorth"] = "pass 'lower_to_truenorth' failed:\n    - 2 (LIF): a voltage leak"
    trained = {"digits_mlp": {"model": "digits_mlp", "float_test_accuracy": 0.97, "train_s": 1.5}}
    try:
        mp.setattr(benchmark, "STUDY", (benchmark.StudyModel(1, "ANN", "frames", "MLP", "digits_mlp", "ann"),
                                        benchmark.StudyModel(2, "converted SNN", "frames", "MLP", "digits_mlp",
                                                             "converted")))
        mp.setattr(benchmark, "_checkpoints", lambda request, pool, say: ({"digits_mlp": checkpoint}, trained))
        mp.setattr(benchmark, "_builds", lambda paths, request, pool, say: {
            "digits_mlp": {"reports": reports, "compile_s": 1.0}})
        mp.setattr(benchmark, "SWEEP_MODELS", {"converted": "digits_mlp"})
        mp.setattr(benchmark, "SWEEP_STEPS", (4, 8))
        mp.setattr(benchmark, "SWEEP_THRESHOLDS", (1.0, 2.0))
        benchmark.run_benchmark(benchmark.BenchmarkRequest(output=tmp / "bench", eval_samples=20, jobs=1),
                                lambda _: None)
    finally:
        mp.undo()
    return tmp / "bench" / "benchmark.json"


KINDS = {"targets": "targets", "codings": "codings", "benchmark": "benchmark",
         **{f"build-{t}": "build" for t in TARGETS},
         "build-trained-snn": "build", "build-nir": "build", "build-netx": "build", "run-golden": "run",
         "run-both": "run", "run-sanafe": "run"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_real_reports_of_every_kind_follow_the_schema(reports, name):
    if name not in reports:
        pytest.skip(f"{name}: its input (shared/external, SANA-FE) is not here")
    report = json.loads(reports[name].read_text())
    assert list(report)[:2] == ["schema_version", "report_kind"]
    assert report["schema_version"] == SCHEMA_VERSION and report["report_kind"] == KINDS[name]
    assert report_problems(report, strict=True) == []
    if KINDS[name] == "build":
        assert report["activity"]["layers"] and report["activity"]["sample"] == 0
        assert ("core_map" in report["estimate"]) == (report["target"] != "ref")
    if name in ("build-trained-snn", "build-nir"):
        assert "time_semantics" in report
    if name == "benchmark":
        assert report["rows"][1]["chips"]["truenorth"]["error"] and report["sweeps"]["converted"]["findings"]


def test_report_folders_read_back_and_render(reports, run_cli):
    """What `neurodeploy report` reads (the schema check, the file hashes) passes for every folder kind."""
    for name in ("build-loihi2", "targets", "codings", "benchmark"):
        code, out, err = run_cli("report", reports[name].parent)
        assert code == 0 and out.strip(), (name, err)


# ------------------------------------------------------------------------------------------------ broken reports


@pytest.fixture(scope="module")
def build_report(reports):
    return json.loads(reports["build-loihi2"].read_text())


def _edited(report: dict, change) -> dict:
    copy = json.loads(json.dumps(report))
    change(copy)
    return copy


@pytest.mark.parametrize("change,problem", [
    (lambda r: r["estimate"].update(energy_uj="high"),
     "report.estimate.energy_uj: expected number or null, found text"),
    (lambda r: r["layers"][0].update(neurons=1.5), "report.layers[0].neurons: expected integer, found float"),
    (lambda r: r.update(test_samples="450"), "report.test_samples: expected integer, found text"),
    (lambda r: r.update(estimate=[]), "report.estimate: expected an object, found a list"),
    (lambda r: r["estimate"].update(latency_range_us=[1.0]), "report.estimate.latency_range_us: expected 2 items"),
    (lambda r: r["deployed"].update(accuracy=1.5), "report.deployed.accuracy: expected at most 1, found 1.5"),
    (lambda r: r["deployed"].pop("steps"), "report.deployed.steps: missing"),
    (lambda r: r.pop("activity"), "report.activity: missing"),
    (lambda r: r["estimate"]["core_map"].update(kind="grid"), "report.estimate.core_map.kind: expected 'layers' or "
                                                             "'counts', found 'grid'"),
    (lambda r: r.update(report_kind="summary"), "report.report_kind: expected 'build' or 'targets'"),
    (lambda r: r.update(schema_version="0.9"), "report.schema_version: this neurodeploy reads schema 1.0"),
    (lambda r: r.pop("schema_version"), "report.schema_version: missing (written by an older neurodeploy"),
])
def test_a_broken_report_is_refused_with_the_field_named(build_report, change, problem):
    problems = report_problems(_edited(build_report, change))
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(InputError):
        check_report(_edited(build_report, change), Path("report.json"))


def test_every_problem_is_listed_at_once(build_report):
    def damage(r):
        r["estimate"]["energy_uj"] = "high"
        del r["deployed"]["steps"]
        r["targets"] = 3

    problems = report_problems(_edited(build_report, damage), strict=True)
    assert problems == ["report.deployed.steps: missing",
                        "report.estimate.energy_uj: expected number or null, found text",
                        "report.targets: not a field of this report (report.schema.json 1.0)"]
    assert report_problems(_edited(build_report, damage)) == problems[:2]  # readers tolerate unknown fields


def test_an_old_report_is_refused_by_the_command_line(reports, tmp_path, run_cli):
    """A build written before reports had a version: `neurodeploy report` says so instead of listing fields."""
    import shutil

    from neurodeploy.buildfolder import SELF_HASH, content_hash

    build = tmp_path / "old"
    shutil.copytree(reports["build-ref"].parent, build)
    report = json.loads((build / "report.json").read_text())
    old = {k: v for k, v in report.items() if k not in ("schema_version", "report_kind", SELF_HASH)}
    (build / "report.json").write_text(json.dumps({**old, SELF_HASH: content_hash(old)}))
    code, _, err = run_cli("report", build)
    assert code == 2 and "written by an older neurodeploy without a schema version; compile again" in err
    assert "Traceback" not in err


def test_writing_a_report_that_breaks_the_schema_fails_in_the_tests(build_report, monkeypatch):
    from neurodeploy.buildfolder import report_json

    bad = _edited(build_report, lambda r: (r.pop("report_sha256"), r["estimate"].update(energy_uj="high")))
    with pytest.raises(AssertionError, match=r"report\.estimate\.energy_uj: expected number or null, found text"):
        report_json(bad)
    monkeypatch.delenv("NEURODEPLOY_CHECK_REPORTS")
    assert json.loads(report_json(bad))["estimate"]["energy_uj"] == "high"  # outside the tests: written as asked
