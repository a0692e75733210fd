"""deploys/lib/validated.py's check of a candidate in a copy of the config
tree, run here against a toy tree and checker: fast tier."""

import subprocess

import pytest

from deploys.lib.validated import checked_in_copy

# Reads every file the main config includes, as a service would, and refuses any "bad" line.
CHECKER = ('for f in $(sed -n "s/^include //p" "$copy/main.conf"); do cat "$f"; done > "$copy/seen" '
           '&& grep -qx good "$copy/seen" && ! grep -qx bad "$copy/seen"')


@pytest.fixture
def tree(tmp_path):
    live = tmp_path / "etc"
    (live / "sites").mkdir(parents=True)
    (live / "main.conf").write_text(f"include {live}/sites/*\n")
    (live / "sites" / "ours").write_text("old\n")  # the checker wants "good": only the candidate has it
    (live / "sites" / "default").write_text("bad\n")  # what `remove` takes out
    return live


def check(tmp_path, tree, candidate_text, **kwargs):
    candidate = tmp_path / "candidate"
    candidate.write_text(candidate_text)
    shell = checked_in_copy(str(tree), "main.conf", "sites/ours", CHECKER, **kwargs).format(candidate=candidate)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    proc = subprocess.run(["sh", "-c", shell], env={"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch)},
                          capture_output=True, text=True)
    assert list(scratch.iterdir()) == [], "the copy was not cleaned up"
    return proc


def live_files(tree):
    return {path.relative_to(tree): path.read_text() for path in tree.rglob("*") if path.is_file()}


def test_an_accepted_candidate_was_read_in_place_of_the_live_file(tmp_path, tree):
    before = live_files(tree)
    assert check(tmp_path, tree, "good\n", remove=("sites/default",)).returncode == 0
    assert live_files(tree) == before


def test_a_refused_candidate_leaves_the_live_tree_untouched(tmp_path, tree):
    before = live_files(tree)
    assert check(tmp_path, tree, "bad\n", remove=("sites/default",)).returncode != 0
    assert live_files(tree) == before


def test_removed_files_are_left_out_of_the_check(tmp_path, tree):
    assert check(tmp_path, tree, "good\n").returncode != 0  # the live default site is still read


def test_a_main_config_that_never_reads_the_candidate_is_refused(tmp_path, tree):
    (tree / "main.conf").write_text("# includes nothing\n")
    proc = check(tmp_path, tree, "good\n", remove=("sites/default",))
    assert proc.returncode != 0 and "does not include" in proc.stderr
