"""tests/document_commands.py, the document's operator commands, held to the
document itself: nothing listed that it does not print, nothing it prints
left out, and each one run as printed by the test named or its deviation
documented."""

import re

import pytest

from tests.document_commands import (COMMANDS, DOCUMENT, SECTIONS, bash_commands, docs_anchors, inline_code,
                                     sections)
from tests.inventory import REPO


@pytest.fixture(scope="module")
def document() -> dict[str, str]:
    if not DOCUMENT.exists():
        pytest.fail(f"the infrastructure document is not at {DOCUMENT}", pytrace=False)
    return sections(DOCUMENT.read_text())


def test_each_listed_command_is_printed_verbatim_in_each_of_its_sections(document):
    for printed in COMMANDS:
        for section in printed.sections:
            text = document.get(section, "")
            assert printed.command in bash_commands(text) + inline_code(text), \
                f"section {section} does not print {printed.command!r}"


def test_every_command_the_operator_sections_print_is_listed(document):
    listed = {(section, printed.command) for printed in COMMANDS for section in printed.sections}
    in_document = {(number, command) for number, text in document.items()
                   if any(number == wanted or number.startswith(f"{wanted}.") for wanted in SECTIONS)
                   for command in bash_commands(text)}
    assert in_document, "no commands found in the document: is it the infrastructure document?"
    assert in_document - listed == set(), "printed in the document, missing from tests/document_commands.py"


def test_each_command_is_run_as_printed_by_the_test_named_or_its_deviation_is_documented():
    for printed in COMMANDS:
        assert bool(printed.run_by) != bool(printed.deviation), f"{printed.command!r}: run_by or deviation, not both"
        if printed.run_by:
            assert f'"{printed.command}"' in (REPO / printed.run_by).read_text(), \
                f"{printed.run_by} does not run {printed.command!r}"
        else:
            where = re.search(r"\((docs/[\w.]+\.md)#([\w-]+)\)$", printed.deviation)
            assert where, f"{printed.command!r}: its deviation names no docs/ section"
            assert where[2] in docs_anchors(REPO / where[1]), f"{where[1]} has no section #{where[2]}"
