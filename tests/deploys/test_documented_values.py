"""The production inventory's data (inventory.py over group_data/all.py) holds the
document's values. The host checks compare a host with its inventory's data;
these compare that data with the document, so together they prove the document."""

import pytest

from tests.inventory import REPO, load

PRODUCTION = load(REPO / "inventory.py")[0]


@pytest.mark.proves("S2.1-address", "S2.1-domain", "S2.1-user-root")
def test_production_is_the_documents_vps():
    assert (PRODUCTION.name, PRODUCTION.address, PRODUCTION.data["ssh_user"]) == \
        ("insta.tiblings.com", "147.93.112.223", "root")
    assert PRODUCTION.data["domain"] == "insta.tiblings.com"


@pytest.mark.parametrize("setting, documented", [
    pytest.param("app_user", "nodejs", marks=pytest.mark.proves("S3.1-user-nodejs")),
    pytest.param("db_port", 5432, marks=pytest.mark.proves("S4.1-localhost-5432")),
    pytest.param("db_name", "insta_connect_demo", marks=pytest.mark.proves("S4.1-database-and-user")),
    pytest.param("db_user", "insta_user", marks=pytest.mark.proves("S4.1-database-and-user")),
    pytest.param("backup_dir", "/root/backups", marks=pytest.mark.proves("S4.3-location")),
    pytest.param("backup_retention_days", 30, marks=pytest.mark.proves("S4.3-retention")),
    pytest.param("acme_directory", "https://acme-v02.api.letsencrypt.org/directory",
                 marks=pytest.mark.proves("S5.2-lets-encrypt")),
    pytest.param("node_env", "production", marks=pytest.mark.proves("S6-node-env")),
    pytest.param("log_level", "info", marks=pytest.mark.proves("S6-log-level")),
    pytest.param("doppler_project", "insta-connect-demo", marks=pytest.mark.proves("S6-doppler")),
    pytest.param("doppler_config", "dev_insta", marks=pytest.mark.proves("S6-doppler")),
])
def test_production_data_is_the_documents(setting, documented):
    assert PRODUCTION.data[setting] == documented
