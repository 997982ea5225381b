"""The one exception type for mistakes a user can fix."""

from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix: the message names the thing and the fix, in one line.

    Scripts catch it, print the message to stderr and exit 1; programming errors keep
    their tracebacks.
    """


#: exit status of a run that finished but left rows failed (0: every row done; 1: a UserError
#: stopped it; 130: interrupted). Documented in the README.
EXIT_ROWS_FAILED = 3
#: exit status of a usage error: a mistyped or missing flag, a bad flag value (argparse's)
EXIT_USAGE = 2


class RowsFailed(UserError):
    """A run (or a stage of a study) ended with rows that failed: exit EXIT_ROWS_FAILED."""

    exit_status = EXIT_ROWS_FAILED
