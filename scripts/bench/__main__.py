"""`make bench`: trains, measures and prints the figures (see scripts/bench).

Options are environment variables (`make bench BENCH_QUICK=1` works too):

  BENCH_QUICK=1         a short run to check the benchmark itself: epochs
                        capped at 5, 10 s per load level, fewer levels. Its
                        accuracy and latency figures mean nothing.
  BENCH_EPOCHS=N        cap every `epochs` (both Rasa configs) at N
  BENCH_MODEL=path      use this trained model instead of training one
                        (no training time is reported for it)
  BENCH_SKIP=a,b        leave out parts: default (Rasa's default pipeline),
                        baseline, sentence (the model with / without sentence
                        features that config.yml is not, and the comparison),
                        nlu (every NLU comparison, sentence too), turns
                        (one long conversation: a turn's cost by its number,
                        with and without the kept tracker and states),
                        handoff (the same FAQ questions in conversations
                        with and without a live chat before them), load,
                        capacity (16 conversations of 40 turns back to back
                        on one process and on make run-scaled, and RSS
                        over 1,000 conversations)
  BENCH_CONVERSATIONS=1000  conversations of the capacity part's memory run
  BENCH_LEVELS=1,4,8,16 paced conversations at once (people who read and type)
  BENCH_THINK=2         their mean think time in seconds (0.5x to 1.5x)
  BENCH_STRESS_LEVELS=1,4,16  back-to-back conversations (no think time)
  BENCH_DURATION=45     seconds per level
  BENCH_WARMUP=15       seconds of warm-up traffic before measuring
  BENCH_TURNS=10        FAQ turns per conversation before a new one starts
  BENCH_PROFILE=1       sample the Rasa server with py-spy during the top
                        stress level (default: on when py-spy is installed)
  BENCH_DATABASE=sqlite throwaway SQLite file, or `postgresql`: a throwaway
                        database on BENCH_POSTGRES_URL (else TEST_POSTGRES_URL,
                        else postgresql://postgres@127.0.0.1:5432/postgres)
  BENCH_OUT=results/bench  where bench.json, bench.md, latency.png, turns.png go

Exits 0 whether or not targets are met (it is a measurement, not a test);
PASS/MISS is printed for each target.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from scripts.bench import (
    capacity,
    handoff,
    load,
    nlu,
    profile,
    report,
    sentence,
    training,
    turns,
)
from scripts.evaluate import TEST_SETS, Example, load_examples

ROOT = Path(__file__).resolve().parents[2]
TRAINING_NLU = ROOT / "data" / "nlu"
PARTS = (
    "default",
    "baseline",
    "sentence",
    "nlu",
    "turns",
    "handoff",
    "load",
    "capacity",
)


def _ints(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Options:
    quick: bool
    epochs: Optional[int]
    model: Optional[Path]
    skip: frozenset
    plan: load.Plan
    database: str
    out: Path
    conversations: int = capacity.CONVERSATIONS

    @classmethod
    def from_env(cls, env=os.environ) -> Options:
        quick = _flag(env.get("BENCH_QUICK", ""))
        epochs = env.get("BENCH_EPOCHS") or ("5" if quick else "")
        skip = frozenset(s.strip() for s in env.get("BENCH_SKIP", "").split(",") if s)
        unknown = skip - set(PARTS)
        if unknown:
            raise SystemExit(f"BENCH_SKIP: unknown {sorted(unknown)}; use {PARTS}")
        database = env.get("BENCH_DATABASE", "sqlite")
        if database not in ("sqlite", "postgresql"):
            raise SystemExit("BENCH_DATABASE must be sqlite or postgresql")
        out = Path(env.get("BENCH_OUT") or ROOT / "results" / "bench")
        wants_profile = _flag(env.get("BENCH_PROFILE", "1"))
        plan = load.Plan(
            paced_levels=_ints(
                env.get("BENCH_LEVELS") or ("1,16" if quick else "1,4,8,16")
            ),
            stress_levels=_ints(
                env.get("BENCH_STRESS_LEVELS") or ("16" if quick else "1,4,16")
            ),
            duration=float(env.get("BENCH_DURATION") or (10 if quick else 45)),
            warm_up=float(env.get("BENCH_WARMUP") or (5 if quick else 15)),
            turns=int(env.get("BENCH_TURNS") or 10),
            think=float(env.get("BENCH_THINK") or 2.0),
            profile_to=out / "profile-rasa.txt"
            if wants_profile and profile.py_spy()
            else None,
        )
        return cls(
            quick=quick,
            epochs=int(epochs) if epochs else None,
            model=Path(env["BENCH_MODEL"]) if env.get("BENCH_MODEL") else None,
            skip=skip,
            plan=plan,
            database=database,
            out=out,
            conversations=int(
                env.get("BENCH_CONVERSATIONS") or (50 if quick else 1000)
            ),
        )


def machine() -> Dict[str, Any]:
    import psutil
    import rasa

    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "platform": platform.platform(),
    }


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    if "-h" in sys.argv[1:] or "--help" in sys.argv[1:]:
        print(__doc__)
        return 0
    options = Options.from_env()
    notes: List[str] = []
    if options.quick:
        notes.append("QUICK run: epochs capped, short load levels; figures not valid")
    elif options.epochs is None:
        notes.append(
            "nothing capped: both Rasa configs train with their own epochs "
            "(the default pipeline: 100 for DIET and the ResponseSelector; the "
            "project's linear classifier has none)"
        )
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    notes.append(
        f"load average at start: {load_average} on {os.cpu_count()} cores; the "
        "load client runs on the same machine. Latency depends on other work on "
        "the machine; CPU per message hardly does."
    )
    results: Dict[str, Any] = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "mode": "quick" if options.quick else "full",
            "database": "throwaway SQLite file"
            if options.database == "sqlite"
            else "throwaway PostgreSQL database",
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "options": {**asdict(options), "skip": sorted(options.skip)},
            "notes": notes,
        },
        "training": {},
        "nlu": {},
        "startup": {},
    }
    started = time.monotonic()
    print(__doc__.splitlines()[0])
    print(f"mode {results['meta']['mode']}; output in {options.out}")

    with tempfile.TemporaryDirectory(prefix="ims-bench-train-") as tmp:
        workdir = Path(tmp)
        if options.model:
            model = options.model
            notes.append(f"model given ({model}); not trained by this run")
        else:
            step("training the project's model (rasa train, from scratch)")
            trained = training.train_project(workdir, options.epochs)
            model = trained.pop("model")
            notes += [f"epochs capped: {n}" for n in trained["capped"]]
            results["training"]["project"] = trained
            print(
                f"  {trained['seconds']:.0f} s, archive "
                f"{trained['archive_bytes'] / 1024**2:.1f} MiB"
            )
        if "nlu" not in options.skip:
            sets = test_sets()
            compare_nlu(model, sets, workdir, options, results, notes)
            if "sentence" not in options.skip:
                compare_sentence(model, sets, workdir, options, results, notes)
        if "turns" not in options.skip:
            step(
                f"one conversation of {turns.DEFAULT_TURNS} FAQ turns, in process: "
                "as Rasa does alone, then with the kept tracker and states "
                "(SQLite, and PostgreSQL when it answers)"
            )
            results["turns"] = turns.measure(model)
            results["turns_profile"] = turns.measure_profile(model)
            for kind, runs in results["turns"].items():
                for name, run in runs.items():
                    first, last = run["latency_by_ten"][0], run["latency_by_ten"][-1]
                    print(
                        f"  {kind}, {name}: turns {first['turns']} p50 "
                        f"{first['p50']} ms, turns {last['turns']} p50 {last['p50']} ms"
                    )
        if "handoff" not in options.skip:
            rounds = handoff.QUICK_ROUNDS if options.quick else handoff.ROUNDS
            step(
                f"{handoff.CONVERSATIONS} conversations that never had a live chat "
                f"and {handoff.CONVERSATIONS} after one, {rounds} FAQ questions "
                "each, interleaved, in process (SQLite, and PostgreSQL when it "
                "answers)"
            )
            results["handoff"] = handoff.measure(model, rounds)
            handoff.print_figures(results["handoff"])
        if "load" not in options.skip:
            plan = options.plan
            step(
                f"end to end over REST: paced {plan.paced_levels}, back to back "
                f"{plan.stress_levels}, {plan.duration:.0f} s each, "
                f"{results['meta']['database']}"
            )
            if plan.profile_to:
                print(f"  py-spy samples the top stress level into {plan.profile_to}")
            results["meta"]["load_average_before_load"] = [
                round(x, 2) for x in os.getloadavg()
            ]
            figures = load.run(
                model, options.database, plan, keep_logs=options.out / "logs"
            )
            results["startup"].update(figures.pop("startup"))
            results.update(figures)

        if "capacity" not in options.skip:
            step(
                f"capacity: {capacity.PEOPLE} conversations of {capacity.TURNS} "
                "turns back to back on one Rasa process and on make run-scaled, "
                f"then RSS over {options.conversations} conversations"
            )
            results["capacity"] = capacity.measure(
                model,
                warm_up=options.plan.warm_up,
                memory_conversations=options.conversations,
            )

    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    targets = report.write(results, options.out)
    report.print_summary(results, targets)
    print(f"Written: {options.out}/bench.json, bench.md, latency.png, turns.png")
    return 0


def test_sets() -> Dict[str, List[Example]]:
    """Both held-out test sets (scripts/evaluate.py's TEST_SETS), by name;
    exits if any of their messages is in the training data."""
    sets = {name: load_examples(path) for name, path in TEST_SETS.items()}
    train = {e.text.lower() for e in load_examples(TRAINING_NLU)}
    for name, examples in sets.items():
        overlap = {e.text.lower() for e in examples} & train
        if overlap:
            raise SystemExit(f"{len(overlap)} {name} test messages are in training")
    return sets


def compare_nlu(
    model: Path,
    sets: Dict[str, List[Example]],
    workdir: Path,
    options: Options,
    results: Dict[str, Any],
    notes: List[str],
) -> None:
    """The three systems on the held-out test sets."""
    sizes = ", ".join(f"{len(examples)} {name}" for name, examples in sets.items())
    step(f"NLU: this project's model on the held-out messages ({sizes})")
    agent, seconds = nlu.load_agent(model)
    results["startup"]["agent_load_seconds"] = round(seconds, 2)
    results["nlu"]["project"] = nlu.rasa_figures(agent, sets)
    _print_nlu(results["nlu"]["project"], f"(Agent.load {seconds:.1f} s)")
    del agent
    gc.collect()

    if "default" not in options.skip:
        step("NLU: Rasa's default pipeline (rasa train nlu, same data)")
        trained = training.train_default_nlu(workdir, options.epochs)
        notes += [f"epochs capped: {n}" for n in trained["capped"]]
        default_model = trained.pop("model")
        results["training"]["rasa_default"] = trained
        agent, _ = nlu.load_agent(default_model)
        results["nlu"]["rasa_default"] = nlu.rasa_figures(agent, sets)
        _print_nlu(results["nlu"]["rasa_default"], f"(trained {trained['seconds']} s)")
        del agent
        gc.collect()

    if "baseline" not in options.skip:
        step("NLU: TF-IDF + logistic regression baseline (same data)")
        train = load_examples(TRAINING_NLU)
        fitted, trained = nlu.train_baseline(train)
        results["training"]["baseline"] = trained
        results["nlu"]["baseline"] = nlu.baseline_figures(fitted, sets)
        _print_nlu(
            results["nlu"]["baseline"],
            f"(trained {trained['seconds']} s, C={trained['chosen_C']:g})",
        )


def _share(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _print_nlu(by_set: Dict[str, Dict[str, Any]], extra: str = "") -> None:
    for name, figures in by_set.items():
        parse = figures["parse_ms"]
        print(
            f"  {name}: accuracy {_share(figures['overall_accuracy'])}, FAQ topic "
            f"{_share(figures['faq_topic_accuracy'])}, out-of-scope recall "
            f"{_share(figures['out_of_scope_recall'])}, parse p50 "
            f"{parse['p50']:.1f} ms p95 {parse['p95']:.1f} ms, CPU "
            f"{figures['cpu_ms_per_message']:.1f} ms/message",
            flush=True,
        )
    if extra:
        print(f"  {extra}", flush=True)


def compare_sentence(
    model: Path,
    sets: Dict[str, List[Example]],
    workdir: Path,
    options: Options,
    results: Dict[str, Any],
    notes: List[str],
) -> None:
    """The project's model and the other sentence variant, each measured in
    a fresh process."""
    ours, models = sentence_models(model, workdir, options, results, notes)
    results["sentence"] = {"project_variant": ours, "variants": {}}
    for name in sentence.VARIANTS:
        step(f"NLU {name} sentence features, in a fresh process")
        measured = sentence.measure(models[name]["model"], sets, workdir, name)
        results["sentence"]["variants"][name] = {**models[name], **measured}
        _print_variant(measured)


def sentence_models(
    model: Path,
    workdir: Path,
    options: Options,
    results: Dict[str, Any],
    notes: List[str],
) -> Tuple[str, Dict[str, Dict[str, Any]]]:
    """Trains the variant config.yml is not; returns config.yml's variant
    and both models (path, config, training time) by variant."""
    project = yaml.safe_load(training.PROJECT_CONFIG.read_text())
    ours = sentence.variant_of(project)
    other, config, source = sentence.other_variant(project)
    if options.model:
        notes.append(f'BENCH_MODEL taken as trained on config.yml ("{ours}")')
    step(f"NLU {other} sentence features: training it ({source})")
    path = sentence.write_config(config, workdir / f"config-{other}-sentence.yml")
    trained = training.train_model(path, f"{other}-sentence", workdir, options.epochs)
    notes += [f"epochs capped: {n}" for n in trained["capped"]]
    print(f"  {trained['seconds']:.0f} s", flush=True)
    seconds = results["training"].get("project", {}).get("seconds")
    return ours, {
        ours: _variant("config.yml (the project's model)", project, model, seconds),
        other: _variant(source, config, trained["model"], trained["seconds"]),
    }


def _variant(
    source: str, config: Dict[str, Any], model: Path, seconds: Optional[float]
) -> Dict[str, Any]:
    return {
        "config": source,
        "pipeline": sentence.pipeline_names(config),
        "model": model,
        "training_seconds": seconds,
        "archive_bytes": model.stat().st_size,
    }


def _print_variant(measured: Dict[str, Any]) -> None:
    _print_nlu(measured["sets"])
    mib = 1024**2
    print(
        f"  Agent.load {measured['load_seconds']:.1f} s; RSS after load "
        f"{measured['rss_after_load_bytes'] / mib:.0f} MiB, peak "
        f"{measured['rss_peak_bytes'] / mib:.0f} MiB",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
