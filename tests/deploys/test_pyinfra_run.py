"""tests/pyinfra_run.py reads pyinfra's Results table, which the idempotency
checks rely on: a table it cannot read must fail them, not pass: fast tier."""

import pytest

from tests.pyinfra_run import changed_operations

# pyinfra 3.10's table, as a site run prints it (names shortened).
TABLE = """\
--> Starting operation: deploys/base.py | Install the base packages
    [10.213.1.2] No changes

--> Results:
    Operation                                               Hosts   Success   Error   No Change   
    deploys/base.py | Install the base packages             1       -         -       1           
    deploys/app.py | Upload the app's code from the repo    1       1         -       -           
    deploys/services.py | Restart insta-connect-demo        1       1         -       -           
    Grand total                                             3       2         -       1           

--> Disconnecting from hosts...
"""


def test_changed_rows_are_read():
    assert changed_operations(TABLE) == ["deploys/app.py | Upload the app's code from the repo",
                                         "deploys/services.py | Restart insta-connect-demo"]


def test_an_unchanged_run_reads_as_no_changes():
    unchanged = (TABLE.replace("1       1         -       -", "1       -         -       1")
                 .replace("3       2         -       1", "3       -         -       3"))
    assert changed_operations(unchanged) == []


@pytest.mark.parametrize("table, why", [
    (TABLE.split("--> Results:")[0], "no Results table"),
    (TABLE.replace("    deploys/", "\tdeploys/"), "could not read"),  # rows in another layout: none parsed
    (TABLE.replace("    Grand total", "Total:"), "grand total missing"),
    (TABLE.replace("3       2         -       1", "3       3         -       0"), "does not add up"),
])
def test_a_table_that_is_not_read_fails(table, why):
    with pytest.raises(AssertionError, match=why):
        changed_operations(table)
