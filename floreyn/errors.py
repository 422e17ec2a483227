"""The root of every refusal Floreyn gives.

Every refusal is typed (its class), carries a stable machine `code` that the
server returns in JSON and the scripted till prints, and says why in Dutch
(the till's language) and English. The message templates live on the class,
so a new refusal is one small subclass and nothing else to keep in step.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FloreynError(Exception):
    """Base of all Floreyn refusals.

    Subclasses set `code`, `nl` and `en`; the templates are formatted with
    the keyword arguments given at construction (`AmountTooLarge(max="fl 10,00")`).
    """

    code: ClassVar[str] = "error"
    nl: ClassVar[str] = "Er ging iets mis."
    en: ClassVar[str] = "Something went wrong."

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "nl") -> str:
        template = self.nl if lang == "nl" else self.en
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):  # a template that lost a parameter must not hide the refusal
            return template

    def to_dict(self) -> dict[str, Any]:
        """The refusal as the server and the scripted till report it."""
        return {
            "error": self.code,
            "message": self.message("en"),
            "message_nl": self.message("nl"),
            "params": {k: str(v) for k, v in self.params.items()},
        }
