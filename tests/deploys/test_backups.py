"""deploys/lib/backups.py: which pulled backup restore.py restores: fast tier."""

import pytest

from deploys.lib.backups import chosen_backup

PULLED = ["insta_connect_demo-20251101T010000Z.dump.age", "insta_connect_demo-20251103T010000Z.dump.age",
          "insta_connect_demo-20251102T235959Z.dump.age", "insta_connect_demo-20251103T010000Z.dump.age.sha256",
          "zz_other_db-20991231T010000Z.dump.age"]


@pytest.fixture
def backups(tmp_path, on_host):
    def choose(name=None, files=PULLED):
        (tmp_path / "box").mkdir(exist_ok=True)
        for file in files:
            (tmp_path / "box" / file).write_text("x")
        with on_host(local_backup_dir=str(tmp_path)):
            return chosen_backup(name).relative_to(tmp_path)
    return choose


def test_the_default_is_the_newest_backup_of_the_hosts_database(backups):
    assert str(backups()) == "box/insta_connect_demo-20251103T010000Z.dump.age"


def test_a_named_backup_is_taken_as_named(backups):
    assert str(backups("insta_connect_demo-20251101T010000Z.dump.age")) == \
        "box/insta_connect_demo-20251101T010000Z.dump.age"


def test_no_backup_or_a_missing_one_is_refused(backups):
    with pytest.raises(RuntimeError, match="no backups of insta_connect_demo in .*pull_backups.py"):
        backups(files=["zz_other_db-20991231T010000Z.dump.age"])
    with pytest.raises(RuntimeError, match="nope.dump.age does not exist"):
        backups("nope.dump.age")
