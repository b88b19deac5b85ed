"""The staff app's forms. Every POST carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from webapp.staff.labels import STATUS_LABELS

NOTE_LENGTH = 2000


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=list(STATUS_LABELS.items()))
    note = TextAreaField(
        "Note (what happened)", validators=[Optional(), Length(max=NOTE_LENGTH)]
    )


class DeleteForm(FlaskForm):
    """Deleting asks for the reference (or conversation id) to be typed."""

    confirm = StringField("Type it to confirm", validators=[DataRequired()])


class ReviewedForm(FlaskForm):
    """Marks a red-flagged conversation reviewed (CSRF only: no fields)."""


class ExportForm(FlaskForm):
    """Exports the filtered queue (CSRF only: the filters are hidden fields)."""


class LogoutForm(FlaskForm):
    pass


class CodeForm(FlaskForm):
    """A six-digit code of the authenticator app (sign-in, TOTP set-up)."""

    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


REPLY_LENGTH = 1000


class ReplyForm(FlaskForm):
    """A staff member's message to the person in a live chat."""

    text = TextAreaField(
        "Your message", validators=[DataRequired(), Length(max=REPLY_LENGTH)]
    )


class ChatForm(FlaskForm):
    """Take or end a live chat (CSRF only: no fields)."""


class AvailabilityForm(FlaskForm):
    """Live chat on or off for the signed-in staff member."""

    available = HiddenField(validators=[DataRequired()])
