"""`backdrop dlq list|show|replay`: the events a stage gave up on, read back and sent round again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, user_errors
from base.errors import InfraError
from base.settings import Settings
from schemas import PIPELINE
from streams.dead_letters import Letter, dead_letter_topics, read_letter, read_letters, replay
from streams.topics import STAGES

dlq_app = typer.Typer(
    help="Dead letters: the events a stage (or the projector) gave up on, kept 30 days. List them, read "
    "one in full, replay them once the cause is fixed.",
    no_args_is_help=True,
)
CONSUMERS = (*PIPELINE, "projector")
StageArgument = Annotated[
    str, typer.Argument(help=f"Whose dead letters: {', '.join(CONSUMERS)}.", show_default=False)
]
JobOption = Annotated[str | None, typer.Option("--job", help="Only those of this job id.")]
CodeOption = Annotated[str | None, typer.Option("--code", help="Only those with this error code.")]


def _inputs(stage: str) -> list[str]:
    from backdrop.cli.stack import consumed_topics

    if stage not in CONSUMERS:
        raise typer.BadParameter(f"STAGE must be one of {', '.join(CONSUMERS)}; got {stage!r}")
    return list(consumed_topics()[stage])


@contextlib.contextmanager
def _kafka(settings: Settings) -> Iterator[None]:
    from confluent_kafka import KafkaException

    try:
        yield
    except KafkaException as exc:
        raise InfraError(
            f"Kafka at {settings.kafka_bootstrap} did not answer ({exc.args[0].str()}): is it up? "
            "`backdrop status` says."
        ) from exc


def _select(settings: Settings, stage: str, job: str | None, code: str | None) -> list[Letter]:
    with _kafka(settings):
        found = [
            letter
            for letter in read_letters(settings, dead_letter_topics(_inputs(stage)))
            if letter.failure.stage == stage
            and (job is None or letter.job_id == job)
            and (code is None or letter.failure.error_code == code)
        ]
    return sorted(found, key=lambda letter: letter.failure.dead_lettered_at)  # partitions interleave


def _as_json(letter: Letter, full: bool = False) -> dict[str, object]:
    failure = letter.failure
    found: dict[str, object] = {
        "ref": letter.ref,
        "job_id": letter.job_id,
        "stage": failure.stage,
        "code": failure.error_code,
        "message": failure.error_message,
        "attempts": failure.attempts,
        "dead_lettered_at": failure.dead_lettered_at.isoformat(),
        "source": f"{failure.source_topic}:{failure.source_partition}:{failure.source_offset}",
        "replay_of": letter.replay_of,
    }
    if full:
        found["type"] = failure.error_type
        found["key"] = None if letter.key is None else letter.key.decode(errors="replace")
        found["headers"] = {name: value.decode(errors="replace") for name, value in letter.headers}
        try:
            found["value"] = orjson.loads(letter.value or b"")
        except orjson.JSONDecodeError:
            found["value"] = None if letter.value is None else letter.value.decode(errors="replace")
    return found


def _age(at: datetime) -> str:
    seconds = (datetime.now(UTC) - at).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


@dlq_app.command("list")
@user_errors
def list_letters(
    stage: StageArgument,
    job: JobOption = None,
    code: CodeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The dead letters of STAGE, oldest first: where each is, its job, its error code and message."""
    settings = Settings()
    letters = _select(settings, stage, job, code)
    if as_json:
        for letter in letters:
            typer.echo(orjson.dumps(_as_json(letter)).decode())
        return
    if not letters:
        console.print(f"no dead letters for {stage}" + (f" of job {job}" if job else ""))
        return
    table = Table("ref", "when", "job", "code", "tries", "message")
    for letter in letters:
        failure = letter.failure
        again = " [dim](a replay, failed again)[/]" if letter.replay_of else ""
        table.add_row(
            letter.ref,
            _age(failure.dead_lettered_at),
            letter.job_id or "-",
            failure.error_code,
            str(failure.attempts),
            failure.error_message[:120] + again,
        )
    Console().print(table)
    console.print(
        f"{len(letters)} dead letters; `backdrop dlq show REF` reads one in full, "
        f"`backdrop dlq replay {stage}` sends them round again"
    )


@dlq_app.command("show")
@user_errors
def show(
    ref: Annotated[str, typer.Argument(help="TOPIC:PARTITION:OFFSET, as `dlq list` prints it.")],
) -> None:
    """One dead letter in full, as JSON: the error (with a traceback for a bug), headers, key and event."""
    settings = Settings()
    try:
        with _kafka(settings):
            letter = read_letter(settings, ref)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if letter is None:
        raise typer.BadParameter(
            f"no dead letter at {ref}: past the topic's end, or already removed (30 days)"
        )
    typer.echo(orjson.dumps(_as_json(letter, full=True), option=orjson.OPT_INDENT_2).decode())


@dlq_app.command("replay")
@user_errors
def replay_letters(
    stage: StageArgument,
    job: JobOption = None,
    code: CodeOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; send nothing.")
    ] = False,
) -> None:
    """Publish STAGE's dead letters again, unchanged, to the topic each failed on; fix the cause first.

    Every stage takes a repeated event as a redo, so replaying one twice does no harm, but each replay
    is work done again: narrow it with --job or --code. A replay that fails again is dead-lettered again,
    marked as a replay.
    """
    settings = Settings()
    letters = _select(settings, stage, job, code)
    # The projector's failures on the admitted submits share that topic with extraction: sent round
    # again, they would extract the job a second time.
    extract_input = STAGES[0].name
    refused = [
        letter for letter in letters if stage == "projector" and letter.failure.source_topic == extract_input
    ]
    if refused:
        raise typer.BadParameter(
            f"{len(refused)} of these dead letters are admitted submits the projector could not record; "
            f"replayed on {extract_input} they would run their jobs' extraction again. Leave them out "
            "with --code or --job, or fix the cause and resubmit those jobs."
        )
    verb = "would replay" if dry_run else "replaying"
    for letter in letters:
        console.print(f"{verb} {letter.ref} → {letter.failure.source_topic} (job {letter.job_id or '-'})")
    if dry_run or not letters:
        console.print(f"{len(letters)} dead letters {'would be ' if dry_run else ''}replayed")
        return
    with _kafka(settings):
        sent = replay(settings, letters)
    console.print(f"{sent} dead letters replayed; `backdrop status` shows the stage taking them")
