"""Exercise checkers: compare a learner's answer with the reference and say what is wrong.

Every checker raises `CheckFailure` (an `AssertionError`) with a message naming the problem:
the shape expected, the first entry that differs, and a hint for the usual mistake. On
success it prints one line starting with a check mark.
"""

from micourse.checks.core import CheckFailure, Diagnosis, assert_close, call, check_close, check_function, passed

__all__ = ["CheckFailure", "Diagnosis", "assert_close", "call", "check_close", "check_function", "passed"]
