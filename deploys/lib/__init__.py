"""Helpers shared by the deploys in deploys/ (not deploys of their own): secrets,
facts and operations pyinfra lacks, units, validated config files."""
