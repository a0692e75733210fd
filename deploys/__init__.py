"""pyinfra deploys, one per concern; deploys/site.py runs them all."""
