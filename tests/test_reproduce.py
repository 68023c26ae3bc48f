"""`wav2lip-emotion reproduce`: the whole experiment on the tests' own tiny budget, a crash in the middle, a
resume that skips what is finished, stopping after a step, the per-pair merge, the plans of the real budgets and
one-line errors."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from wav2lip_emotion.cli import main
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.reproduce import (
    BUDGETS,
    PAIRS,
    PUBLIC_BUDGETS,
    STAGES,
    Budget,
    ReproduceConfig,
    Reproduction,
    merge_scores,
    run_reproduction,
)

#: the tests' budget: tiny everything (the package offers only the public ones)
TEST_BUDGET = Budget(
    name="test",
    actors=3,
    sentences=1,
    size=96,
    max_seconds=1.2,
    procedural_identities=False,
    profile="tiny",
    preprocess_workers=1,
    syncnet_steps=2,
    wav2lip_steps=2,
    emotion_steps=1,
    conditional_steps=2,
    pairs=(("neutral", "happy"), ("happy", "neutral")),  # two: the per-pair models are merged per variant
    batch_size=2,
    evals_per_run=1,
    eval_batches=1,
    judge="none",
    tensorboard=False,
    eval_pairs=(("happy", "neutral"), ("neutral", "happy")),
    lse=False,
    identity=False,
)

ROWS = [
    "full/l1+emotion",
    "full/emotion",
    "full/l1",
    "half/l1+emotion",
    "half/emotion",
    "half/l1",
    "conditional",
    "ground-truth",
    "copy",
]


class Crash(Exception):
    """A simulated crash in the middle of a training."""


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory) -> SimpleNamespace:
    """The test budget end to end: (A) crashes in the conditional training, (B) resumes and finishes,
    (C) runs again with everything finished."""
    import wav2lip_emotion.train as train_module
    from wav2lip_emotion.train import Trainer

    out = tmp_path_factory.mktemp("reproduce") / "out"
    config = ReproduceConfig(budget=TEST_BUDGET, out=out, quiet=True, threads=1)
    real_train = train_module.train

    def crashing_train(cfg, overrides=(), *, fresh=False):
        if Path(cfg.runtime.output).name == "conditional":
            Trainer(cfg).run(stop_after=1)
            raise Crash("simulated crash after the first step of the conditional model")
        return real_train(cfg, overrides, fresh=fresh)

    t0 = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "train", crashing_train)
        with pytest.raises(Crash):
            run_reproduction(config)
    crashed_seconds = time.perf_counter() - t0
    state_after_crash = json.loads((out / "reproduction.json").read_text())
    runs_before = _mtimes(out / "runs")

    t0 = time.perf_counter()
    resumed = run_reproduction(config)
    resumed_seconds = time.perf_counter() - t0
    files_after_b = _mtimes(out / "runs") | {f"world/{k}": v for k, v in _mtimes(out / "world").items()}

    t0 = time.perf_counter()
    again = run_reproduction(config)
    again_seconds = time.perf_counter() - t0
    files_after_c = _mtimes(out / "runs") | {f"world/{k}": v for k, v in _mtimes(out / "world").items()}
    return SimpleNamespace(
        out=out,
        state_after_crash=state_after_crash,
        runs_before=runs_before,
        crashed_seconds=crashed_seconds,
        resumed=resumed,
        resumed_seconds=resumed_seconds,
        again=again,
        again_seconds=again_seconds,
        files_after_b=files_after_b,
        files_after_c=files_after_c,
    )


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(path.open()))


def test_report_and_tables_have_every_variant_and_the_papers_numbers(reproduction) -> None:
    r = reproduction.resumed
    assert r.report == reproduction.out / "reproduction.md"
    report = r.report.read_text()
    for text in (
        "## Table 2",
        "## Table 3",
        "## Time per step",
        "wav2lip-emotion reproduce --budget test",
        "FD-faceapi",
    ):
        assert text in report, text
    # the paper's numbers next to ours: Table 2 (half l1+emotion: LSE-D 10.563, FID 71.508), Table 3 (1.063)
    for number in ("10.563", "71.508", "11.357", "1.063", "3.537"):
        assert number in report, number

    t2 = _csv(reproduction.out / "tables" / "table2.csv")
    assert t2[0][:3] == ["variant", "LSE*-D", "paper LSE-D"] and "p(dst)" in t2[0] and "identity dist." in t2[0]
    assert [row[0] for row in t2[1:]] == ROWS
    paper_fid = t2[0].index("paper FID")
    assert float(t2[ROWS.index("half/l1+emotion") + 1][paper_fid]) == pytest.approx(71.508)
    assert t2[ROWS.index("conditional") + 1][paper_fid] == "-"

    t3 = _csv(reproduction.out / "tables" / "table3.csv")
    assert [row[0] for row in t3[1:]] == [f"{s}->{d}" for s, d in PAIRS]
    row = t3[1 + PAIRS.index(("neutral", "happy"))]
    assert float(row[t3[0].index("paper dV")]) == pytest.approx(1.063)
    assert math.isfinite(float(row[t3[0].index("conditional dV")]))

    # the two pair models of each half-mask variant are one row: 2 videos (one per pair), both pairs in Table 3
    names = r.evaluation_names
    assert names["half-l1+emotion@neutral-happy"] == "half/l1+emotion" and names["conditional"] == "conditional"
    for variant in ("half/l1+emotion", "half/l1", "conditional", "ground-truth", "copy"):
        assert r.summary(variant).videos == 2, variant
    assert r.summary("half/l1+emotion", "happy->neutral").videos == 1
    gt = r.summary("ground-truth").values
    assert gt["delta_valence"] > 0.5 and r.summary("ground-truth").frechet == pytest.approx(0.0, abs=1e-6)
    assert r.summary("copy").values["delta_valence"] == 0.0

    timing = _csv(reproduction.out / "tables" / "timing.csv")
    assert len(timing) == 1 + 2 + len(r.runs) + 2 + 1  # header, world + preprocess, trainings, eval + report, total
    assert timing[-1][0] == "total" and float(timing[-1][1]) > 0
    assert (reproduction.out / "eval" / "report.md").is_file()
    assert r.split["test"] and not set(r.split["test"]) & set(r.split["train"])
    assert r.cases == 2  # one test actor x one sentence x two pairs


def test_a_crash_loses_only_the_step_in_progress(reproduction) -> None:
    done = set(reproduction.state_after_crash["steps"])
    assert {"world", "preprocess", "train:syncnet", "train:half_l1_emotion_happy_neutral"} <= done
    assert "train:conditional" not in done and "evaluate" not in done
    assert not any(k.startswith("conditional/") and k.endswith("summary.json") for k in reproduction.runs_before)
    timings = {t.name: t for t in reproduction.resumed.timings}
    assert all(timings[name].skipped for name in done)
    assert not timings["train:conditional"].skipped and not timings["evaluate"].skipped
    # what finished before the crash was not made again
    for key, mtime in reproduction.runs_before.items():
        if not key.startswith("conditional/"):
            assert reproduction.files_after_b[key] == mtime, key


def test_a_second_run_skips_everything(reproduction) -> None:
    again = reproduction.again
    assert all(t.skipped for t in again.timings if t.name != "report")
    assert reproduction.files_after_c == reproduction.files_after_b  # no run directory or world file rewritten
    assert reproduction.again_seconds < 20, reproduction.again_seconds
    assert [row[0] for row in again.table2[1]] == ROWS
    assert _same_tables(again.table2, reproduction.resumed.table2)  # the same numbers, from the saved scores
    assert "skipped" in (reproduction.out / "reproduction.md").read_text()


def _same_tables(a, b) -> bool:
    def norm(v):
        return "nan" if isinstance(v, float) and math.isnan(v) else v

    return a[0] == b[0] and [[norm(v) for v in r] for r in a[1]] == [[norm(v) for v in r] for r in b[1]]


def test_unknown_budget_is_a_one_line_cli_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x"
    assert main(["reproduce", "--budget", "huge", "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("wav2lip-emotion: error:"), err
    assert "'huge'" in err and "small or full" in err
    assert not out.exists()


def test_an_output_directory_of_another_budget_is_refused(reproduction, capsys) -> None:
    state = reproduction.out / "reproduction.json"
    before = state.stat().st_mtime_ns
    assert main(["reproduce", "--budget", "small", "--out", str(reproduction.out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "budget 'test'" in err, err
    assert state.stat().st_mtime_ns == before


def test_missing_configs_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configs"):
        run_reproduction(ReproduceConfig(budget=TEST_BUDGET, out=tmp_path / "o", configs=tmp_path / "nowhere"))
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_help_offers_small_and_full_only(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "{small,full}" in text and "{small,full,test}" not in text
    assert set(BUDGETS) == {"small", "full"} == set(PUBLIC_BUDGETS)  # the tests' budget is theirs (TEST_BUDGET)
    assert "{" + ",".join(STAGES) + "}" in text  # --until offers exactly the steps


def test_plans_of_the_small_and_full_budgets(tmp_path: Path) -> None:
    small = Reproduction(ReproduceConfig(budget="small", out=tmp_path / "s"))
    runs = small.plan_runs()
    assert [r.name for r in runs[:3]] == ["syncnet", "wav2lip_half", "wav2lip_full"] and runs[-1].name == "conditional"
    assert len(runs) == 10 and {r.steps for r in runs if r.stage == "emotion"} == {BUDGETS["small"].emotion_steps}
    for run in runs:
        sets = dict(o.split("=", 1) for o in run.overrides)
        assert json.loads(sets["runtime.output"]) == str(tmp_path / "s" / "runs" / run.name)
        assert json.loads(sets["data.cache"]) == str(tmp_path / "s" / "cache")
        if run.stage in ("emotion", "conditional"):
            mask = "full" if run.name.startswith("full") else "half"  # full-mask variants start from wav2lip_full
            assert json.loads(sets["model.init_generator"]).endswith(f"runs/wav2lip_{mask}/generator.safetensors")
        assert "model.profile" not in sets  # the configs' profile is the small budget's

    full = Reproduction(ReproduceConfig(budget="full", out=tmp_path / "f"))
    runs = full.plan_runs()
    emotion = [r for r in runs if r.stage == "emotion"]
    assert len(emotion) == 36 and len({r.name for r in runs}) == len(runs)
    assert {r.pair for r in emotion} == set(PAIRS)
    checkpoints, names = full.eval_names(runs)
    assert len(checkpoints) == 37 and sorted(set(names.values())) == sorted(ROWS[:7])
    assert all("/" not in c.split("=", 1)[0] for c in checkpoints)  # evaluate's NAME=PATH takes no slash


def test_budget_checks() -> None:
    with pytest.raises(ConfigError, match="actors"):
        Budget(name="x", actors=2, sentences=1, size=96)
    with pytest.raises(ConfigError, match="pair"):
        Budget(name="x", actors=3, sentences=1, size=96, pairs=(("angry", "happy"),))


def test_merge_scores_micro_averages_pair_models_into_their_variant() -> None:
    from wav2lip_emotion.evaluation.scores import VideoScore

    def score(variant: str, pair: str, dv: float, k: int) -> VideoScore:
        s, d = pair.split("->")
        return VideoScore(variant, f"A/{k:03d}/{s}_to_{d}", "A", f"{k:03d}", pair, s, d, "g", "s", "d", 10, 10,
                          delta_valence=dv)  # fmt: skip

    scores = [score("v@nh", "neutral->happy", 0.5, k) for k in range(3)] + [score("v@hn", "happy->neutral", 2.0, 9)]
    frechet = [("v@nh", "neutral->happy", 10.0), ("v@nh", "all", 10.0), ("v@hn", "happy->neutral", 30.0)]
    merged = {(s.variant, s.pair): s for s in merge_scores(scores, frechet, {"v@nh": "v", "v@hn": "v"})}
    assert set(merged) == {("v", "neutral->happy"), ("v", "happy->neutral"), ("v", "all")}
    assert merged[("v", "all")].values["delta_valence"] == pytest.approx(0.875)  # (3 x 0.5 + 2.0) / 4 videos
    assert merged[("v", "all")].videos == 4 and merged[("v", "all")].frechet == pytest.approx(20.0)
    assert merged[("v", "happy->neutral")].frechet == 30.0


def test_until_stops_after_a_step_and_the_next_call_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "o"
    first = run_reproduction(ReproduceConfig(budget=TEST_BUDGET, out=out, quiet=True, threads=1, until="world"))
    assert first.report is None and first.stopped_after == "world" and first.tables == {}
    assert [t.name for t in first.timings] == ["world"] and first.split["test"]
    assert (out / "world" / "world.json").is_file() and not (out / "cache").exists()
    assert set(json.loads((out / "reproduction.json").read_text())["steps"]) == {"world"}

    second = run_reproduction(ReproduceConfig(budget=TEST_BUDGET, out=out, quiet=True, threads=1, until="preprocess"))
    assert [(t.name, t.skipped) for t in second.timings] == [("world", True), ("preprocess", False)]
    assert (out / "cache" / "cache.json").is_file() and not (out / "runs").exists()
    assert second.split == first.split


def test_until_is_checked_and_shown_in_the_command(tmp_path: Path) -> None:
    config = ReproduceConfig(budget="small", out=tmp_path / "o", until="train")
    assert config.command().endswith("--until train")
    assert "--until" not in ReproduceConfig(budget="small", out=tmp_path / "o").command()
    with pytest.raises(ConfigError, match="until"):
        ReproduceConfig(until="fly")


def test_the_world_configs_are_package_data() -> None:
    import wav2lip_emotion
    from wav2lip_emotion.reproduce import default_configs_dir

    configs = default_configs_dir()
    assert configs == Path(wav2lip_emotion.__file__).resolve().parent / "configs" / "world"
    assert (configs / "syncnet.toml").is_file() and (configs.parent / "mead" / "_base.toml").is_file()
