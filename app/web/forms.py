"""Server-rendered forms; Flask-WTF adds and checks the CSRF token."""

import re

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length, Regexp, ValidationError

# Deliberately loose: the address is a login name here, nothing is mailed to it.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter a valid email address.")
# Unicode's Cc: nobody types them, PostgreSQL refuses NUL in text, and a
# browser drops tabs and newlines from a URL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def no_control_characters(form, field):
    if field.data and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError("Control characters are not allowed.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254), no_control_characters, EMAIL])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256), no_control_characters])


class RegisterForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254), no_control_characters, EMAIL])
    password = PasswordField("Password", validators=[
        InputRequired(), Length(min=10, max=256), no_control_characters])
    confirm = PasswordField("Repeat password", validators=[
        InputRequired(), EqualTo("password", message="The passwords differ.")])


class ActionForm(FlaskForm):
    """A button that changes something (logout, disconnect, refresh): CSRF only."""
