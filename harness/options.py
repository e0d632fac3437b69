"""The options several `harness` commands share: their click declarations and what their values mean."""

from pathlib import Path

import click

from harness.spec.model import ModuleSpec


def parse_shard(ctx, param, value):
    """`--shard K/N` as (K, N)."""
    if value is None:
        return None
    try:
        index, count = (int(v) for v in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected K/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise click.BadParameter(f"K must be between 1 and N, got {value}")
    return index, count


def parse_workers(ctx, param, value):
    """`--workers N|auto` as a number, or "auto"."""
    if value is None or value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'auto', got {value!r}") from None
    if count < 1:
        raise click.BadParameter(f"{count} is smaller than 1")
    return count


def history_option(command):
    return click.option(
        "--history",
        "history",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Another machine's outcomes.jsonl (a CI artifact), read beside the module's own to find tests"
        " that passed and failed at the same source state (repeatable).",
    )(command)


def repetition_options(command):
    """`--repeat`, `--shuffle`, `--seed` and `--history`, for `run` and `check --run`."""
    command = history_option(command)
    command = click.option(
        "--seed",
        type=click.IntRange(min=0),
        help="Run the tests once in the order this seed shuffles them to (a repetition's, to replay it).",
    )(command)
    command = click.option(
        "--shuffle/--no-shuffle",
        default=None,
        help="Run each repetition in its own seeded order (default: the spec's stability.shuffle).",
    )(command)
    return click.option(
        "--repeat",
        type=click.IntRange(min=1),
        metavar="N",
        help="Run the tests N times: flaky and order-dependent tests and unstable coverage are reported,"
        " each file is judged by its lowest figure, and a metric's repeat: K takes its K from them"
        " (default: the spec's stability.repeat, else 1).",
    )(command)


def changed_option(command):
    """`--changed [REF]`: the change since the merge base of REF (default: the main branch) and HEAD."""
    return click.option(
        "--changed",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[REF]",
        help="Only the change since REF's merge base (default: the main branch): see 'Gating pull requests'.",
    )(command)


def repetitions_given(repeated: dict) -> dict:
    """Which of the repetition options were given (`repetition_options`' values): what `--changed`
    refuses (it runs the affected tests once) and `check` without `--run` has no use for."""
    return {
        "repeat": repeated["repeat"] is not None,
        "shuffle": repeated["shuffle"] is not None,
        "seed": repeated["seed"] is not None,
        "history": bool(repeated["history"]),
    }


def plan_of(spec: ModuleSpec, repeat: int | None, shuffle: bool | None, seed: int | None, history=()):
    """How often and in which order the tests run: the options, else the spec's `stability:` (the
    other machines' outcome logs, `history`, are read apart)."""
    from harness.repetitions import Plan  # the run machinery: only for the commands that run tests

    count = repeat if repeat is not None else spec.stability.repeat
    if seed is not None and count > 1:
        raise click.UsageError("--seed orders a single run; with --repeat, --shuffle gives each its own")
    return Plan(count, spec.stability.shuffle if shuffle is None else shuffle, seed)
