"""Errors. A `UserError` is something the user can fix; the CLI prints it on one line and exits with 2."""

from __future__ import annotations


class PaybonusError(Exception):
    """Base class of every error paybonus raises on purpose."""


class UserError(PaybonusError):
    """Bad input: a file, a configuration, an event or a formula. `where` names the place, `what` the problem."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)
        self.where = where
        self.what = what


class NewerLedger(UserError):
    """A SQLite ledger that a newer paybonus upgraded (a migration this version does not know): refused."""


class VerificationFailed(PaybonusError):
    """A check ran and found something wrong (the CLI's exit code 1): an audit, a statement, a lint."""


class PartlyPublished(VerificationFailed):
    """A batch stopped part-way (a payment another publisher made meanwhile): what came before it is recorded, so
    this is no "nothing written" refusal (exit 1, not 2); publishing the file again resumes it."""


class MissingParameterValue(LookupError):
    """No dated value of a legal parameter is known for a date (a date before the parameters begin, or a value
    still to be added with --params). A LookupError, as schemes expect; the CLI prints it on one line (exit 2)."""


class Interrupted(PaybonusError):
    """The user interrupted a command (Ctrl-C): the message says what was done before (exit 2, as "aborted")."""


class PluginError(PaybonusError):
    """A plugin could not be loaded or registered something invalid."""


class SchemeError(PaybonusError):
    """A scheme returned something the ledger cannot record (raised inside the scheme's transaction)."""
