"""Server-rendered forms; Flask-WTF adds and checks the CSRF token."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length, Regexp

# Deliberately loose: the address is a login name here, nothing is mailed to it.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter a valid email address.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254), EMAIL])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])


class RegisterForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254), EMAIL])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=10, max=256)])
    confirm = PasswordField("Repeat password", validators=[
        InputRequired(), EqualTo("password", message="The passwords differ.")])


class ActionForm(FlaskForm):
    """A button that changes something (logout, disconnect, refresh): CSRF only."""
