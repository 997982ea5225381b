"""The one exception type for mistakes a user can fix."""

from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix: the message names the thing and the fix, in one line.

    Scripts catch it, print the message to stderr and exit 1; programming errors keep
    their tracebacks.
    """
