"""Helpers shared by the deploys: secrets, facts and operations pyinfra lacks."""
