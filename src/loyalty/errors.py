"""User-facing errors: one clear sentence, a non-zero exit code, never a traceback."""


class LoyaltyError(Exception):
    """An error the user can act on. The message is one sentence naming the input and the problem."""

    exit_code = 2


class InputError(LoyaltyError):
    """The input files are missing, unreadable, empty or lack a required column."""


class BuildError(LoyaltyError):
    """dbt (or a later pipeline step) failed: models or data tests did not pass."""

    exit_code = 1
