"""Building blocks of the params schema (pydantic v2), shared by :mod:`bootembed.config` and the strategy modules.

Pydantic was chosen over the earlier hand-written dataclass coercion because its errors carry the full location of
the bad value (``prepare.max_anchors``), its constraints (``ge``, ``le``, ``Literal``) state the expected range in
the schema itself, ``strict`` mode refuses the silent conversions YAML invites (``1e9`` for an integer, ``"yes"``
for a boolean), and cross-field rules are ordinary validators. :func:`format_error` turns the first error into the
project's one-line form: ``params.yaml: seed: expected 0 <= seed < 2**32, got -1``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ConfigError",
    "FloresCode",
    "Section",
    "StrList",
    "TargetLanguage",
    "check_flores_code",
    "format_error",
]

_FLORES_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


class ConfigError(ValueError):
    """A parameter file is missing, malformed, or holds an invalid value (the message names file and field)."""


class Section(BaseModel):
    """Base of every params section: frozen, strict types, unknown fields rejected, finite numbers only.

    Every field is required: the one place defaults live is ``params.yaml``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def check_flores_code(value: str) -> str:
    """Validate a FLORES-200 code (``hau_Latn``) against the codes of the FLORES-200 release.

    Raises:
        ValueError: not of the form ``xxx_Yyyy`` or not a FLORES-200 code.
    """
    from bootembed.data.languages import FLORES200_CODES

    if not _FLORES_CODE.match(value):
        raise ValueError(f"expected a FLORES-200 code such as 'hau_Latn', got {value!r}")
    if value not in FLORES200_CODES:
        raise ValueError(
            f"expected a FLORES-200 code such as 'hau_Latn', got {value!r} (unknown code)"
        )
    return value


def _not_english(value: str) -> str:
    if value == "eng_Latn":
        raise ValueError("expected a non-English target language, got 'eng_Latn'")
    return value


#: A FLORES-200 code (validated against the release's 204 codes).
FloresCode = Annotated[str, AfterValidator(check_flores_code)]
#: A non-English FLORES-200 code (a target language).
TargetLanguage = Annotated[str, AfterValidator(check_flores_code), AfterValidator(_not_english)]
#: A YAML list of strings, stored as a tuple (lists are accepted despite strict mode).
StrList = Annotated[tuple[str, ...], Field(strict=False)]


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "params"


_MESSAGES = {
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected a list",
    "model_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "finite_number": "expected a finite number",
}


def format_error(exc: ValidationError, source: str) -> str:
    """One line for the first error of a pydantic validation: ``<source>: <field>: expected ..., got <value>``."""
    err = exc.errors(include_url=False)[0]
    where = _location(tuple(p for p in err["loc"] if p not in ("function-after", "tagged-union")))
    kind = err.get("type", "")
    message = _MESSAGES.get(kind) or str(err.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if kind.startswith(("greater", "less")) and "ctx" in err:
        message = "expected a value " + str(err["msg"]).removeprefix("Input should be ")
    elif kind == "literal_error":
        message = "expected " + str(err["msg"]).removeprefix("Input should be ")
    if kind == "missing":
        return f"{source}: {where}: {message}"
    if "got " in message:
        return f"{source}: {where}: {message}"
    return f"{source}: {where}: {message}, got {err.get('input')!r}"
