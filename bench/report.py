"""Turn a benchmark run into a Markdown table and a plot."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

ROLES = ("web", "worker", "rabbitmq", "redis")
COLOURS = {"project": "tab:blue", "baseline": "tab:red", "floor": "tab:gray"}


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def aggregate(turns: list[dict]) -> dict:
    """Pool the rounds of each (system, clients) into one row."""
    rows: dict[tuple[str, int], dict] = {}
    for turn in turns:
        key = (turn["system"], turn["clients"])
        row = rows.setdefault(
            key,
            {
                "count": 0,
                "failed": 0,
                "errors": 0,
                "seconds": 0.0,
                "latencies": [],
                "redis_submissions": 0,
                "redis_keys_left": 0,
                "post_latencies": [],
                "cpu": dict.fromkeys(ROLES, 0.0),
                "redis": {},
                "peak_rss": {"web": 0, "worker": 0},
            },
        )
        for name in ("count", "failed", "errors", "seconds", "redis_submissions"):
            row[name] += turn[name]
        row["redis_keys_left"] += turn.get("redis_keys_left", 0)
        row["latencies"] += turn["latencies"]
        row["post_latencies"] += turn["post_latencies"]
        for role, seconds in turn["cpu"].items():
            row["cpu"][role] += seconds
        for command, calls in turn["redis"].items():
            row["redis"][command] = row["redis"].get(command, 0) + calls
        for role, peak in turn["peak_rss"].items():
            row["peak_rss"][role] = max(row["peak_rss"][role], peak)
    for row in rows.values():
        count = max(row["count"], 1)
        row["rps"] = row["count"] / row["seconds"]
        row["p50"] = percentile(row["latencies"], 0.50) * 1000
        row["p99"] = percentile(row["latencies"], 0.99) * 1000
        row["post_p50"] = percentile(row["post_latencies"], 0.50) * 1000
        row["cpu_ms"] = sum(row["cpu"].values()) / count * 1000
        row["cpu_ms_by_role"] = {role: seconds / count * 1000 for role, seconds in row["cpu"].items()}
        row["redis_per_submission"] = sum(row["redis"].values()) / max(row["redis_submissions"], 1)
    return rows


def targets(rows: dict, scenario: dict) -> list[tuple[str, str, bool]]:
    """The benchmark's targets: (what, the measured ratio or value, met)."""
    found = []
    project_1, floor_1 = rows.get(("project", 1)), rows.get(("floor", 1))
    if project_1 and floor_1:
        ratio = project_1["p50"] / floor_1["p50"]
        found.append(("1 client: project p50 ≤ 1.5 × floor p50", f"{ratio:.2f} ×", ratio <= 1.5))
    project_16, baseline_16 = rows.get(("project", 16)), rows.get(("baseline", 16))
    if project_16 and baseline_16:
        rps = project_16["rps"] / baseline_16["rps"]
        cpu = project_16["cpu_ms"] / baseline_16["cpu_ms"]
        found.append(("16 clients: project req/s ≥ 1.3 × baseline", f"{rps:.2f} ×", rps >= 1.3))
        found.append(("16 clients: project CPU/submission ≤ 0.75 × baseline", f"{cpu:.2f} ×", cpu <= 0.75))
    project_rows = [row for (system, _), row in rows.items() if system == "project"]
    if project_rows:
        worst = max(row["redis_per_submission"] for row in project_rows)
        found.append(("Redis commands per submission ≤ 8 (every level)", f"{worst:.2f} at most", worst <= 8))
    if "project" in scenario:
        p99 = scenario_p99(scenario["project"])
        found.append(
            ("Worker stopped, 32 waiting: form GET p99 < 100 ms", format_scenario(scenario["project"]), p99 < 100)
        )
    return found


def scenario_percentile(outcome: dict, fraction: float) -> float:
    # A GET that timed out took at least the timeout: it counts as infinitely slow.
    return percentile(outcome["latencies"] + [float("inf")] * outcome["timeouts"], fraction) * 1000


def scenario_p99(outcome: dict) -> float:
    return scenario_percentile(outcome, 0.99)


def format_scenario(outcome: dict) -> str:
    if not outcome["latencies"]:
        return f"never answered ({outcome['timeouts']} of {outcome['probes']} GETs timed out at {outcome['probe_timeout']} s)"
    p99, p50 = scenario_p99(outcome), scenario_percentile(outcome, 0.5)
    over = f"over {outcome['probe_timeout']} s"
    text = f"p99 {over if p99 == float('inf') else f'{p99:.0f} ms'}, p50 {over if p50 == float('inf') else f'{p50:.0f} ms'}"
    if outcome["timeouts"]:
        text += f", {outcome['timeouts']} of {outcome['probes']} timed out at {outcome['probe_timeout']} s"
    return text


def markdown(raw: dict) -> str:
    machine, rows = raw["machine"], aggregate(raw["turns"])
    levels = sorted({clients for _, clients in rows})
    systems = [s for s in ("project", "baseline", "floor") if any(key[0] == s for key in rows)]
    lines = [
        f"# Benchmark: {machine['date']}, {machine['cores']} cores, Python {machine['python']}",
        "",
        f"Each level: {machine['rounds']} rounds of {machine['duration']:g} s measured (after "
        f"{machine['warmup']:g} s of warm-up) per system, the systems taking turns; "
        f"the whole run took {machine['seconds']} s.",
        "Latency is the whole browser cycle (GET form, POST, follow the redirect); the floor's is "
        "send_task + get. CPU is user + system of web (or floor client), worker, RabbitMQ and Redis; "
        "Redis commands are INFO commandstats deltas (server-wide) over each whole turn, warm-up included, "
        "divided by the turn's submissions.",
        "",
        "| clients | system | req/s | p50 ms | p99 ms | POST→page p50 ms | CPU ms/submission "
        "(web+worker+rabbitmq+redis) | Redis cmds/submission | peak RSS web MB | peak RSS worker MB | failed |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for clients in levels:
        for system in systems:
            row = rows.get((system, clients))
            if not row:
                continue
            roles = row["cpu_ms_by_role"]
            split = "+".join(f"{roles[r]:.1f}" for r in ROLES)
            lines.append(
                f"| {clients} | {system} | {row['rps']:.1f} | {row['p50']:.1f} | {row['p99']:.1f} | "
                f"{row['post_p50']:.1f} | {row['cpu_ms']:.1f} ({split}) | {row['redis_per_submission']:.2f} | "
                f"{row['peak_rss']['web'] / 2**20:.0f} | {row['peak_rss']['worker'] / 2**20:.0f} | "
                f"{row['failed'] + row['errors']} |"
            )
    breakdown_level = 16 if 16 in levels else levels[-1]
    lines += ["", f"Redis commands per submission by command, {breakdown_level} clients: "]
    for system in systems:
        row = rows.get((system, breakdown_level))
        if row:
            calls = sorted(row["redis"].items(), key=lambda item: -item[1])
            per = ", ".join(f"{name} {n / max(row['redis_submissions'], 1):.2f}" for name, n in calls)
            lines.append(f"- {system}: {per}")
    per_result = machine.get("redis_bytes_per_result", 0)
    lines += [
        "",
        "Redis memory that results leave behind per submission (keys after each turn minus "
        f"before it, all levels, at {per_result} bytes a stored result, MEMORY USAGE of a sample):",
    ]
    for system in systems:
        left = [row for (name, _), row in rows.items() if name == system]
        keys = sum(row["redis_keys_left"] for row in left) / max(sum(row["redis_submissions"] for row in left), 1)
        lines.append(f"- {system}: {keys:.2f} keys, about {keys * per_result:.0f} bytes")
    lines += [
        "",
        "## Ratios",
        "",
        "| clients | req/s project ÷ baseline | CPU/submission project ÷ baseline | p50 project ÷ baseline "
        "| p50 project ÷ floor |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients in levels:
        project, baseline, floor = (rows.get((s, clients)) for s in ("project", "baseline", "floor"))
        if not project:
            continue
        cells = [
            f"{project['rps'] / baseline['rps']:.2f}" if baseline else "–",
            f"{project['cpu_ms'] / baseline['cpu_ms']:.2f}" if baseline else "–",
            f"{project['p50'] / baseline['p50']:.2f}" if baseline else "–",
            f"{project['p50'] / floor['p50']:.2f}" if floor else "–",
        ]
        lines.append(f"| {clients} | " + " | ".join(cells) + " |")
    if raw["scenario"]:
        lines += [
            "",
            f"## Worker stopped, {32} submissions waiting: GET of the form page",
            "",
            "| system | queued messages | form page |",
            "| --- | ---: | --- |",
        ]
        for system, outcome in raw["scenario"].items():
            lines.append(f"| {system} | {outcome['queued']} | {format_scenario(outcome)} |")
    lines += ["", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for what, measured, met in targets(rows, raw["scenario"]):
        lines.append(f"| {what} | {measured} | {'yes' if met else '**no**'} |")
    if raw.get("integrity"):
        integrity = raw["integrity"]
        lines += [
            "",
            f"Results file of the project: {integrity['submissions']} submissions answered, "
            f"{integrity['lines']} lines, {integrity['missing']} missing, "
            f"{integrity['duplicated']} duplicated.",
        ]
    return "\n".join(lines) + "\n"


def plot(raw: dict, path: Path) -> None:
    machine, rows = raw["machine"], aggregate(raw["turns"])
    panels = [
        ("rps", "submissions per second", False),
        ("p50", "latency p50 (ms)", True),
        ("p99", "latency p99 (ms)", True),
        ("cpu_ms", "CPU ms per submission (all processes)", False),
        ("redis_per_submission", "Redis commands per submission", False),
        ("web_rss", "peak RSS of web (MB)", False),
    ]
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for axis, (key, title, log_scale) in zip(axes.flat, panels, strict=False):
        for system in ("project", "baseline", "floor"):
            points = sorted((clients, row) for (name, clients), row in rows.items() if name == system)
            if not points:
                continue
            xs = [clients for clients, _ in points]
            if key == "web_rss":
                ys = [row["peak_rss"]["web"] / 2**20 for _, row in points]
            else:
                ys = [row[key] for _, row in points]
            axis.plot(xs, ys, marker="o", color=COLOURS[system], label=system)
        axis.set_xscale("log", base=2)
        axis.set_xticks([1, 4, 16, 64], labels=["1", "4", "16", "64"])
        if log_scale:
            axis.set_yscale("log")
            axis.yaxis.set_major_formatter(ScalarFormatter())
            axis.yaxis.set_minor_formatter(NullFormatter())
        if key == "redis_per_submission":
            axis.axhline(8, color="tab:green", linestyle="--", linewidth=1, label="target ≤ 8")
            axis.legend()
        axis.set_title(title)
        axis.set_xlabel("concurrent clients")
        axis.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend()
    figure.suptitle(
        f"django-redis-celery benchmark, {machine['date']}, {machine['cores']} cores "
        "(project, seed's way as baseline, bare Celery client as floor)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write(raw: dict, results_dir: Path) -> str:
    """Write bench.md, bench.png and the summary bench.json into results_dir; return the table."""
    table = markdown(raw)
    (results_dir / "bench.md").write_text(table, encoding="utf-8")
    plot(raw, results_dir / "bench.png")
    rows = aggregate(raw["turns"])
    summary = {
        "machine": raw["machine"],
        "rows": [
            {
                "system": system,
                "clients": clients,
                **{k: v for k, v in row.items() if k not in ("latencies", "post_latencies")},
            }
            for (system, clients), row in sorted(rows.items())
        ],
        "scenario": {
            name: {k: v for k, v in outcome.items() if k != "posted"} for name, outcome in raw["scenario"].items()
        },
        "integrity": raw.get("integrity"),
    }
    (results_dir / "bench.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return table


if __name__ == "__main__":
    import sys

    source = json.loads(Path(sys.argv[1]).read_text())
    print(write(source, Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent / "results"))
