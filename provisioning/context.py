"""What every command gets: the parsed arguments, settings, output, the API client and the journal."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import IO, Any, Final, Mapping

from floreyn.provisioning import settings as settings_mod
from floreyn.provisioning.api import AdminClient
from floreyn.provisioning.errors import NotConfirmed, ServerRefused, worded_pair
from floreyn.provisioning.journal import Journal, Pending
from floreyn.provisioning.output import Output
from floreyn.provisioning.settings import Settings

MAX_ANSWER_CHARS: Final = 80  # a yes/no answer; a longer line is read only this far (and is no "ja")
YES: Final = frozenset({"j", "ja", "y", "yes"})


@dataclass
class Ctx:
    args: argparse.Namespace
    settings: Settings
    out: Output
    stdin: IO[str]
    _api: AdminClient | None = field(default=None, repr=False)

    @property
    def api(self) -> AdminClient:
        if self._api is None:
            self._api = AdminClient(
                self.settings.require_server(), self.settings.require_token(), timeout_s=self.settings.timeout_s
            )
        return self._api

    def anonymous_api(self) -> AdminClient:
        """A client for a server without a token yet (init, health)."""
        return AdminClient(self.settings.require_server(), self.settings.token, timeout_s=self.settings.timeout_s)

    @property
    def journal(self) -> Journal:
        return Journal(self.settings.pending_dir)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def write(self, action: str, method: str, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        """One admin write with a request id stored before sending (journal.py): an identical rerun after
        a lost answer reuses the id, and the server answers it "exists" instead of doing it twice."""
        self.api  # noqa: B018 - a missing server or token refuses before anything is journalled
        entry = self.journal.begin(action, {"method": method, "path": path, **body})
        self.note_resumed(entry)
        return self.send_pending(entry, method, path, body)

    def send_pending(self, entry: Pending, method: str, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        try:
            answer = self.api.send(method, path, {**body, "request_id": entry.request_id})
        except ServerRefused:
            self.journal.done(entry)  # a refusal changed nothing; the next attempt is a new request
            raise
        self.journal.done(entry)
        return answer

    def confirm(self, msgid: str, flag: str, /, **params: object) -> None:
        """Ask on stderr, read the answer from stdin; anything but "ja" refuses (exit 1) and names the flag
        that answers it beforehand. With --json nobody is asked: a script gives the flag or is refused."""
        question_nl, question_en = worded_pair(msgid, params)
        if not self.out.json_mode:
            self.out.progress(self.out.say(f"{question_nl} [j/N]", f"{question_en} [y/N]"))
            try:
                answer = self.stdin.readline(MAX_ANSWER_CHARS)
            except (OSError, ValueError):  # no terminal at all (a closed or detached stdin)
                answer = ""
            if answer.strip().lower() in YES:
                return
        raise NotConfirmed(question_nl=question_nl, question_en=question_en, flag=flag)

    def note_resumed(self, entry: Pending) -> None:
        if entry.resumed:
            self.out.progress(
                self.out.say(
                    f"Vervolg van een onderbroken verzoek ({entry.request_id}); het wordt niet dubbel uitgevoerd.",
                    f"Resuming an interrupted request ({entry.request_id}); it will not be done twice.",
                )
            )


def make_settings(args: argparse.Namespace) -> Settings:
    return settings_mod.load(args.home, args.server, args.token)
