"""Field types shared by the schemas."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

import phonenumbers
from marshmallow import ValidationError, fields, validate


class Text(fields.String):
    """A string without NUL characters (PostgreSQL cannot store them), trimmed of outer spaces."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        return text.strip()


def required_text(max_length: int, **kwargs: Any) -> Text:
    """Return a required, non-blank text field of at most ``max_length`` characters."""
    return Text(required=True, validate=validate.Length(min=1, max=max_length), **kwargs)


class Phone(fields.String):
    """A phone number in international form, stored as E.164 (``+16175550100``)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "International format, e.g. +1 617 555 0100",
            "example": "+16175550100",
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(validate=validate.Length(min=2, max=32), metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException as error:
            raise ValidationError(
                "Not a phone number in international format (start with + and the country code)."
            ) from error
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("Not a valid phone number.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class TimeZone(fields.String):
    """An IANA time zone name such as ``Europe/Madrid``."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"description": "IANA time zone", "example": "America/New_York"}
        super().__init__(validate=validate.Length(min=1, max=64), metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text not in _time_zones():
            raise ValidationError("Not a known IANA time zone (for example Europe/Madrid).")
        return text


def email_field(**kwargs: Any) -> fields.Email:
    """Return an e-mail field of sensible length."""
    return fields.Email(validate=validate.Length(max=254), **kwargs)


def password_field(**kwargs: Any) -> Text:
    """Return a password field: at least 10 characters, at most 128 (argon2 input bound)."""
    return Text(required=True, load_only=True, validate=validate.Length(min=10, max=128), **kwargs)


def code_field() -> Text:
    """Return a one-time code field, as typed (case, spaces and dashes do not matter)."""
    return Text(
        required=True,
        validate=validate.Length(min=12, max=32),
        metadata={"example": "ABCD-EFGH-JKMN"},
    )


def id_field(**kwargs: Any) -> fields.Integer:
    """Return an identifier field: a positive 32-bit integer."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=2_147_483_647), **kwargs)
