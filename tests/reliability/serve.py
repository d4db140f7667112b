"""`python -m api` with the tests' `test_sleep` operation allowed: API servers as real processes that run trace jobs.

    python -m tests.reliability.serve serve --host 127.0.0.1 --port PORT
"""

import sys

from api.__main__ import main
from api.operations import OPERATIONS
from tests.jobs_api.conftest import TEST_SLEEP

OPERATIONS[TEST_SLEEP.name] = TEST_SLEEP

if __name__ == "__main__":
    sys.exit(main())
