"""`floreyn-provision`: the cooperative's desk tool (argparse wiring; each command group is its own module).

    floreyn-provision [--server URL] [--token T] [--home DIR] [--json] [--lang nl|en] COMMAND ...

Global options may also follow the command (`floreyn-provision merchant list --json`).
Exit codes: see errors.py (0 ok, 1 bad input, 2 refused, 3 unreachable, 4 device, 5 local setup).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import IO, Any, ClassVar, Final, NoReturn, Sequence

from floreyn.errors import FloreynError
from floreyn.provisioning import (
    cmd_budget,
    cmd_card,
    cmd_config,
    cmd_category,
    cmd_desk,
    cmd_dispute,
    cmd_init,
    cmd_member,
    cmd_merchant,
    cmd_pay,
    cmd_portal,
    cmd_report,
    cmd_settle,
    cmd_terminal,
)
from floreyn.provisioning.context import Ctx, make_settings
from floreyn.provisioning.errors import EXIT_INTERRUPTED, UsageError, exit_code_of, local, worded
from floreyn.provisioning.journal import Journal
from floreyn.provisioning.output import Col, Output, table

GROUPS = (
    cmd_init, cmd_category, cmd_merchant, cmd_terminal, cmd_member, cmd_card, cmd_budget, cmd_desk, cmd_report,
    cmd_settle, cmd_dispute, cmd_portal, cmd_pay, cmd_config,
)


# argparse speaks English; its phrases as a Dutch desk reads them (longest first where one contains another).
ARGPARSE_NL: Final = (
    ("the following arguments are required: ", "deze argumenten ontbreken: "),
    ("unrecognized arguments: ", "onbekende argumenten: "),
    ("invalid choice: ", "ongeldige keuze: "),
    ("(choose from ", "(kies uit "),
    ("expected one argument", "hier hoort één waarde bij"),
    ("expected at most one argument", "hier hoort hoogstens één waarde bij"),
    ("expected at least one argument", "hier hoort minstens één waarde bij"),
    ("one of the arguments ", "een van de argumenten "),
    (" is required", " is nodig"),
    ("not allowed with argument ", "niet samen met argument "),
    ("ambiguous option: ", "onduidelijke optie: "),
    (" could match ", " kan zijn: "),
    ("ignored explicit argument ", "genegeerde waarde "),
    ("invalid ", "ongeldige "),
    (" value: ", "-waarde: "),
    ("usage: ", "gebruik: "),
    ("positional arguments:", "argumenten:"),
    ("options:", "opties:"),
    ("show this help message and exit", "toon deze hulp en stop"),
)


def argparse_nl(message: str) -> str:
    """argparse's English message in Dutch (the option names and values in it stay as typed)."""
    for en, nl in ARGPARSE_NL:
        message = message.replace(en, nl)
    return message


class Parser(argparse.ArgumentParser):
    """Usage errors raise (exit 1, like any bad input) instead of argparse's exit 2, which means "refused" here.

    `lang` is read from the command line before parsing (main), so --help and the usage errors
    come in the language the rest of the output uses."""

    lang: ClassVar[str] = "nl"

    def error(self, message: str) -> NoReturn:
        raise UsageError(
            **worded("detail", "{message} (see: {prog} --help)", message=message, message_nl=argparse_nl(message), prog=self.prog),
        )

    def format_help(self) -> str:
        text = super().format_help()
        return argparse_nl(text) if self.lang == "nl" else text

    def format_usage(self) -> str:
        text = super().format_usage()
        return argparse_nl(text) if self.lang == "nl" else text


def _common(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--server", default=d(None), metavar="URL", help="server URL (or $FLOREYN_SERVER)")
    p.add_argument("--token", default=d(None), help="admin token (or $FLOREYN_TOKEN)")
    p.add_argument(
        "--home",
        type=Path,
        default=d(None),
        metavar="DIR",
        help="the tool's folder (default $FLOREYN_PROVISION_HOME or ~/.config/floreyn-provision)",
    )
    p.add_argument("--json", action="store_true", default=d(False), help="print the result as JSON")
    p.add_argument("--lang", choices=("nl", "en"), default=d("nl"), help="language of messages (default nl)")
    p.add_argument("-v", "--verbose", action="store_true", default=d(False), help="log what the devices do")


def _leaves(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [p]
    own = [p] if p.get_default("run") else []  # runs itself too (`settle --period ...`)
    return own + [leaf for a in subs for child in dict.fromkeys(a.choices.values()) for leaf in _leaves(child)]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="floreyn-provision",
        description="Floreyn desk tool: keys, merchants, terminals, members, cards, "
        "budgets, desk money and reports, through the server's admin API.",
    )
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(sub)
    sub.add_parser("pending", help="writes started but not answered (rerun them to finish)").set_defaults(run=pending)
    for leaf in _leaves(p):
        if leaf is not p:
            _common(leaf, suppress=True)
    return p


def pending(ctx: Ctx) -> int:
    rows = Journal(ctx.settings.pending_dir).pending()
    ctx.out.result(
        rows,
        lambda: table(
            rows, (Col("actie", "action"), Col("verzoek", "request_id"), Col("gegevens", "params", lambda v: str(v)))
        ),
    )
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    stdout, stderr, stdin = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    argv = list(sys.argv[1:] if argv is None else argv)
    Parser.lang = _lang_of(argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        Output(stdout, stderr, json_mode="--json" in argv, lang=Parser.lang).error(exc, exc.exit_code)
        return exc.exit_code
    out = Output(stdout, stderr, json_mode=args.json, lang=args.lang)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx: Ctx | None = None
    try:
        ctx = Ctx(args=args, settings=make_settings(args), out=out, stdin=stdin)
        return int(args.run(ctx))
    except FloreynError as exc:
        code = exit_code_of(exc)
        out.error(exc, code)
        return code
    except OSError as exc:  # a folder or file of the tool itself: not writable, disk full
        err = local("{filename}: {strerror}", filename=exc.filename or '', strerror=exc.strerror or exc)
        out.error(err, err.exit_code)
        return err.exit_code
    except KeyboardInterrupt:
        out.progress(out.say("onderbroken", "interrupted"))
        return EXIT_INTERRUPTED
    finally:
        if ctx is not None:
            ctx.close()


def _lang_of(argv: Sequence[str]) -> str:
    """--lang en / --lang=en anywhere on the line (before argparse has run, for its own messages)."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return "en" if argv[i + 1] == "en" else "nl"
        if arg.startswith("--lang="):
            return "en" if arg == "--lang=en" else "nl"
    return "nl"


def run_module() -> Any:  # pragma: no cover - `python -m floreyn.provisioning.cli`
    sys.exit(main())


if __name__ == "__main__":
    run_module()
