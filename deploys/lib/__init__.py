"""Helpers shared by the deploys in deploys/ (not a deploy of its own)."""
