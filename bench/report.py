"""Turn a benchmark run into a Markdown table and a plot."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

ROLES = ("web", "worker", "rabbitmq", "redis")
SYSTEMS = ("project", "seed", "reduced", "floor")
LABELS = {"project": "project", "seed": "seed", "reduced": "Django, reduced", "floor": "floor"}
COLOURS = {"project": "tab:blue", "seed": "tab:red", "reduced": "tab:orange", "floor": "tab:gray"}
# Commands a client sends when it connects, not for a submission.
HANDSHAKE_COMMANDS = ("hello", "auth", "select", "client")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def aggregate(turns: list[dict]) -> dict:
    """Pool the rounds of each (task, system, clients) into one row."""
    rows: dict[tuple[str, str, int], dict] = {}
    for turn in turns:
        key = (turn.get("task", "cheap"), turn["system"], turn["clients"])
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
                "form_latencies": [],
                "form_failures": 0,
                "browser_spreads": [],
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
        row["form_latencies"] += turn.get("form_latencies", [])
        row["form_failures"] += turn.get("form_failures", 0)
        if medians := turn.get("browser_medians"):
            row["browser_spreads"].append(max(medians) / min(medians))
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
        row["tail"] = row["p99"] / row["p50"] if row["p50"] else float("nan")
        # The slowest browser's median cycle over the fastest's, in the more uneven round.
        row["browser_spread"] = max(row["browser_spreads"], default=float("nan"))
        row["post_p50"] = percentile(row["post_latencies"], 0.50) * 1000
        # A form GET that failed counts as infinitely slow.
        form = row["form_latencies"] + [float("inf")] * row["form_failures"]
        row["form_probes"] = len(form)
        row["form_p99"] = percentile(form, 0.99) * 1000
        row["cpu_ms"] = sum(row["cpu"].values()) / count * 1000
        row["cpu_ms_by_role"] = {role: seconds / count * 1000 for role, seconds in row["cpu"].items()}
        submissions = max(row["redis_submissions"], 1)
        row["redis_per_submission"] = sum(row["redis"].values()) / submissions
        row["redis_without_handshakes"] = (
            sum(calls for name, calls in row["redis"].items() if not name.startswith(HANDSHAKE_COMMANDS)) / submissions
        )
    return rows


def ratio(rows: dict, key: str, task: str, clients: int, other: str) -> float | None:
    project, reference = rows.get((task, "project", clients)), rows.get((task, other, clients))
    if not project or not reference or not reference[key]:
        return None
    return project[key] / reference[key]


def targets(rows: dict, scenario: dict, machine: dict | None = None) -> list[tuple[str, str, bool]]:
    """The benchmark's targets: (what, the measured ratio or value, met)."""
    found = []
    for clients in (16, 64):
        if (p99 := ratio(rows, "p99", "cheap", clients, "seed")) is not None:
            found.append((f"Cheap task, {clients} clients: project p99 ≤ seed p99", f"{p99:.2f} ×", p99 <= 1))
        if (rps := ratio(rows, "rps", "cheap", clients, "seed")) is not None:
            found.append(
                (f"Cheap task, {clients} clients: project submissions/s ≥ 0.95 × seed", f"{rps:.2f} ×", rps >= 0.95)
            )
        if (cpu := ratio(rows, "cpu_ms", "cheap", clients, "seed")) is not None:
            found.append(
                (f"Cheap task, {clients} clients: project CPU/submission ≤ 1.05 × seed", f"{cpu:.2f} ×", cpu <= 1.05)
            )
    if (p50 := ratio(rows, "p50", "cheap", 1, "seed")) is not None:
        found.append(("Cheap task, 1 client: project p50 ≤ 0.95 × seed", f"{p50:.2f} ×", p50 <= 0.95))
    if (slow := ratio(rows, "rps", "slow", 64, "seed")) is not None:
        found.append(("0.5 s task, 64 clients: project submissions/s ≥ 10 × seed", f"{slow:.1f} ×", slow >= 10))
    if crowd := rows.get(("slow", "project", 256)):
        form_p99 = crowd["form_p99"]
        found.append(("0.5 s task, 256 waiting: form page p99 < 100 ms", f"{form_p99:.0f} ms", form_p99 < 100))
    project_rows = [row for (task, system, _), row in rows.items() if system == "project" and task == "cheap"]
    if project_rows:
        worst = max(row["redis_without_handshakes"] for row in project_rows)
        found.append(
            ("Redis commands per submission ≤ 8 (cheap task, every level)", f"{worst:.2f} at most", worst <= 8)
        )
    if machine and "redis_clients_before" in machine:
        before, after = machine["redis_clients_before"], machine["redis_clients_after"]
        found.append(
            ("Redis clients the same before and after the run", f"{before} before, {after} after", after <= before)
        )
    project_errors = sum(row["failed"] + row["errors"] for (_, system, _), row in rows.items() if system == "project")
    found.append(("Errors: 0 at every level (project)", str(project_errors), project_errors == 0))
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


def cell(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def project_and_seed(rows: dict, key: str, clients: int) -> str:
    """The cheap task's `key` of the project and of the seed, side by side."""
    return " / ".join(
        cell(row[key] if (row := rows.get(("cheap", system, clients))) else None) for system in ("project", "seed")
    )


def markdown(raw: dict) -> str:
    machine, rows = raw["machine"], aggregate(raw["turns"])
    levels = sorted({clients for task, _, clients in rows if task == "cheap"})
    slow_levels = sorted({clients for task, _, clients in rows if task == "slow"})
    systems = [s for s in SYSTEMS if any(key[1] == s for key in rows)]
    lines = [
        f"# Benchmark: {machine['date']}, {machine['cores']} cores, Python {machine['python']}",
        "",
        f"Each level: {machine['rounds']} rounds of {machine['duration']:g} s measured (after "
        f"{machine['warmup']:g} s of warm-up) per system, the systems taking turns; "
        f"the whole run took {machine['seconds']} s.",
        "Submissions per second count the POSTs answered within the measured seconds. Latency is the "
        "whole browser cycle (GET form, POST, follow the redirect); the floor's is "
        "send_task + get. CPU is user + system of web (or floor client), worker, RabbitMQ and Redis; "
        "Redis commands are INFO commandstats deltas (server-wide) over each whole turn, warm-up included, "
        "divided by the turn's submissions.",
        "",
        "## Cheap task (the real worker)",
        "",
        "| clients | system | submissions/s | p50 ms | p99 ms | POST→page p50 ms | CPU ms/submission "
        "(web+worker+rabbitmq+redis) | Redis cmds/submission | peak RSS web MB | peak RSS worker MB | failed |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for clients in levels:
        for system in systems:
            row = rows.get(("cheap", system, clients))
            if not row:
                continue
            roles = row["cpu_ms_by_role"]
            split = "+".join(f"{roles[r]:.1f}" for r in ROLES)
            lines.append(
                f"| {clients} | {LABELS[system]} | {row['rps']:.1f} | {row['p50']:.1f} | {row['p99']:.1f} | "
                f"{row['post_p50']:.1f} | {row['cpu_ms']:.1f} ({split}) | {row['redis_per_submission']:.2f} | "
                f"{row['peak_rss']['web'] / 2**20:.0f} | {row['peak_rss']['worker'] / 2**20:.0f} | "
                f"{row['failed'] + row['errors']} |"
            )
    breakdown_level = 16 if 16 in levels else levels[-1]
    lines += ["", f"Redis commands per submission by command, {breakdown_level} clients:", ""]
    for system in systems:
        row = rows.get(("cheap", system, breakdown_level))
        if row:
            calls = sorted(row["redis"].items(), key=lambda item: -item[1])
            per = ", ".join(f"{name} {n / max(row['redis_submissions'], 1):.2f}" for name, n in calls)
            lines.append(f"- {LABELS[system]}: {per}")
    per_result = machine.get("redis_bytes_per_result", 0)
    lines += [
        "",
        "Redis memory that results leave behind per submission (keys after each turn minus "
        f"before it, all levels, at {per_result} bytes a stored result, MEMORY USAGE of a sample):",
        "",
    ]
    for system in systems:
        left = [row for (task, name, _), row in rows.items() if name == system and task == "cheap"]
        keys = sum(row["redis_keys_left"] for row in left) / max(sum(row["redis_submissions"] for row in left), 1)
        lines.append(f"- {LABELS[system]}: {keys:.2f} keys, about {keys * per_result:.0f} bytes")
    lines += [
        "",
        "### Ratios, cheap task",
        "",
        "| clients | submissions/s project ÷ seed | CPU/submission project ÷ seed | p50 project ÷ seed "
        "| p99 project ÷ seed | submissions/s project ÷ Django, reduced | p50 project ÷ floor "
        "| p99 ÷ p50, project / seed | slowest browser's median ÷ fastest's, project / seed |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients in levels:
        cells = [
            cell(ratio(rows, "rps", "cheap", clients, "seed")),
            cell(ratio(rows, "cpu_ms", "cheap", clients, "seed")),
            cell(ratio(rows, "p50", "cheap", clients, "seed")),
            cell(ratio(rows, "p99", "cheap", clients, "seed")),
            cell(ratio(rows, "rps", "cheap", clients, "reduced")),
            cell(ratio(rows, "p50", "cheap", clients, "floor")),
            project_and_seed(rows, "tail", clients),
            project_and_seed(rows, "browser_spread", clients),
        ]
        lines.append(f"| {clients} | " + " | ".join(cells) + " |")
    if slow_levels:
        lines += [
            "",
            f"## A task that takes {machine.get('slow_task_seconds', 0.5):g} s (bench/slow_worker.py)",
            "",
            "The same browsers; meanwhile one more visitor only opens the form page, again and again.",
            "",
            "| clients | system | submissions/s | p50 ms | p99 ms | form page p99 ms (GETs) | failed |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for clients in slow_levels:
            for system in systems:
                row = rows.get(("slow", system, clients))
                if row:
                    lines.append(
                        f"| {clients} | {LABELS[system]} | {row['rps']:.1f} | {row['p50']:.0f} | {row['p99']:.0f} | "
                        f"{row['form_p99']:.0f} ({row['form_probes']}) | {row['failed'] + row['errors']} |"
                    )
        lines += ["", "| clients | submissions/s project ÷ seed | p99 project ÷ seed |", "| ---: | ---: | ---: |"]
        for clients in slow_levels:
            lines.append(
                f"| {clients} | {cell(ratio(rows, 'rps', 'slow', clients, 'seed'), 1)} | "
                f"{cell(ratio(rows, 'p99', 'slow', clients, 'seed'))} |"
            )
    if raw["scenario"]:
        lines += [
            "",
            "## Worker stopped, 32 submissions waiting: GET of the form page",
            "",
            "| system | queued messages | form page |",
            "| --- | ---: | --- |",
        ]
        for system, outcome in raw["scenario"].items():
            lines.append(f"| {LABELS.get(system, system)} | {outcome['queued']} | {format_scenario(outcome)} |")
    lines += ["", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for what, measured, met in targets(rows, raw["scenario"], machine):
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


PANELS = [
    ("cheap", "rps", "submissions per second", False),
    ("cheap", "p50", "latency p50 (ms)", True),
    ("cheap", "cpu_ms", "CPU ms per submission (all processes)", False),
    ("cheap", "redis_per_submission", "Redis commands per submission", False),
    ("cheap", "p99", "latency p99 (ms)", True),
    ("cheap", "web_rss", "peak RSS of web (MB)", False),
    ("slow", "rps", "0.5 s task: submissions per second", True),
    ("slow", "p99", "0.5 s task: latency p99 (ms)", True),
    ("slow", "form_p99", "0.5 s task: form page p99 (ms)", True),
]


def plot(raw: dict, path: Path) -> None:
    machine, rows = raw["machine"], aggregate(raw["turns"])
    figure, axes = plt.subplots(3, 3, figsize=(15, 12))
    for axis, (task, key, title, log_scale) in zip(axes.flat, PANELS, strict=False):
        levels = sorted({clients for t, _, clients in rows if t == task})
        for system in SYSTEMS:
            points = sorted((clients, row) for (t, name, clients), row in rows.items() if name == system and t == task)
            if not points or (key == "form_p99" and not points[0][1]["form_probes"]):
                continue
            xs = [clients for clients, _ in points]
            if key == "web_rss":
                ys = [row["peak_rss"]["web"] / 2**20 for _, row in points]
            else:
                ys = [row[key] for _, row in points]
            axis.plot(xs, ys, marker="o", color=COLOURS[system], label=LABELS[system])
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, labels=[str(n) for n in levels])
        if log_scale:
            axis.set_yscale("log")
            axis.yaxis.set_major_formatter(ScalarFormatter())
            axis.yaxis.set_minor_formatter(NullFormatter())
        if key == "redis_per_submission":
            axis.axhline(8, color="tab:green", linestyle="--", linewidth=1, label="target ≤ 8")
        if key == "form_p99":
            axis.axhline(100, color="tab:green", linestyle="--", linewidth=1, label="target < 100 ms")
        axis.set_title(title)
        axis.set_xlabel("concurrent clients")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(
        f"django-redis-celery benchmark, {machine['date']}, {machine['cores']} cores "
        "(project, the seed, the seed's loop in a reduced Django, bare Celery client as floor)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def plot_latency_distribution(raw: dict, path: Path) -> bool:
    """Each system's cycle latencies at the largest cheap level up to 64 clients, as the share
    of cycles slower than each latency (log scales: the tail is the right end); False with no data."""
    rows = aggregate(raw["turns"])
    levels = sorted(clients for task, _, clients in rows if task == "cheap" and clients <= 64)
    if not levels:
        return False
    clients = levels[-1]
    figure, axis = plt.subplots(figsize=(8, 5))
    for system in SYSTEMS:
        row = rows.get(("cheap", system, clients))
        if not row or not row["latencies"]:
            continue
        ordered = sorted(seconds * 1000 for seconds in row["latencies"])
        slower = [1 - index / len(ordered) for index in range(len(ordered))]
        axis.step(
            ordered, slower, where="post", color=COLOURS[system], label=f"{LABELS[system]} (p99 {row['p99']:.0f} ms)"
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_ylim(1e-3, 1)
    axis.axhline(0.01, color="tab:gray", linestyle=":", linewidth=1, label="1 % slower: p99")
    axis.set_xlabel("browser cycle latency (ms): GET form, POST, follow the redirect")
    axis.set_ylabel("share of cycles slower")
    axis.set_title(f"Cheap task, {clients} clients: latency distribution, {raw['machine']['date']}")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return True


def write(raw: dict, results_dir: Path) -> str:
    """Write bench.md, bench.png, bench-latency.png and the summary bench.json into results_dir;
    return the table."""
    table = markdown(raw)
    (results_dir / "bench.md").write_text(table, encoding="utf-8")
    plot(raw, results_dir / "bench.png")
    plot_latency_distribution(raw, results_dir / "bench-latency.png")
    rows = aggregate(raw["turns"])
    summary = {
        "machine": raw["machine"],
        "rows": [
            {
                "task": task,
                "system": system,
                "clients": clients,
                **{k: v for k, v in row.items() if k not in ("latencies", "post_latencies", "form_latencies")},
            }
            for (task, system, clients), row in sorted(rows.items())
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
