"""Blueprints: auth (pages), dashboard, oauth, api, webhook, monitoring."""
