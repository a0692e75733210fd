"""Templates render while pyinfra prepares the deploy, before any operation
runs. With `-y` pyinfra itself renders a files.template only when that
operation runs, so a broken template would stop the deploy halfway, after the
operations before it had changed the host; rendered here first, it stops the
deploy before the first one, with an error naming the template."""

from jinja2 import TemplateError
from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.api.util import get_template
from pyinfra.operations import files


def render(src: str, **data) -> str:
    """src rendered with host and data, the way files.template renders it."""
    try:
        return get_template(src).render(host=host, **data)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        raise DeployError(f"template {src}{f' (line {line})' if line else ''} does not render: "
                          f"{type(error).__name__}: {error}") from None


def template(src: str, **kwargs):
    """files.template, with src rendered once now (kwargs are its arguments and the template's data)."""
    render(src, **kwargs)
    return files.template(src=src, **kwargs)
