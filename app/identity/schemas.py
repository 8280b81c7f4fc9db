"""API shapes for accounts and tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, EmailStr, Field, StringConstraints

from app.access.policy import Role
from app.core.schemas import InputModel, OutputModel, UTCDateTime
from app.identity.passwords import MAX_LENGTH, MIN_LENGTH

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LENGTH)]
# The length rule is in the schema, so clients see it; the rest of the policy is checked after.
NewPassword = Annotated[
    str,
    # Something besides spaces, and no NUL anywhere (the policy refuses both).
    StringConstraints(
        min_length=MIN_LENGTH, max_length=MAX_LENGTH, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"
    ),
    Field(description="At least 10 characters, not all spaces, no NUL, not a common password."),
]


class RegisterIn(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "sam@example.com",
                    "password": "a long and uncommon passphrase",
                    "display_name": "Sam",
                }
            ]
        }
    )

    email: Annotated[EmailStr, Field(max_length=320)]
    password: NewPassword
    display_name: DisplayName


class MeUpdate(InputModel):
    """What a person may change about themselves: role, email and status are not theirs to set."""

    display_name: DisplayName


class PasswordChange(InputModel):
    current_password: Password
    new_password: NewPassword


class UserOut(OutputModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "email": "sam@example.com",
                    "display_name": "Sam",
                    "role": "member",
                    "email_verified": True,
                    "created_at": "2026-11-24T10:00:00Z",
                }
            ]
        },
    )

    id: int
    email: str
    display_name: str
    role: Role
    email_verified: bool = Field(
        description="Whether the person proved they receive mail at `email`."
    )
    created_at: UTCDateTime


class TokenOut(OutputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type)
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        default=None, description="Exchange for a new pair at this endpoint; usable once."
    )


Token = Annotated[
    str, StringConstraints(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
]


class VerifyEmailIn(InputModel):
    """The token from a verification mail (the link's `token`, or the code pasted)."""

    token: Token


class PasswordResetRequest(InputModel):
    # Any address-shaped text: an address that has no account is answered the same way.
    email: Annotated[
        str, StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    ]


class PasswordResetConfirm(InputModel):
    token: Token
    new_password: NewPassword


class EmailChange(InputModel):
    email: Annotated[EmailStr, Field(max_length=320, description="The new address.")]
    current_password: Password


class Accepted(OutputModel):
    """The request was taken; what follows arrives by mail."""

    detail: str


class SignInOut(OutputModel):
    """One sign-in: a device that stays signed in until it signs out or is ended."""

    id: str
    device: str | None = Field(description="As the app named it, or its User-Agent.")
    created_at: UTCDateTime
    last_used_at: UTCDateTime | None = Field(
        description="When its tokens were last refreshed (about every 15 minutes in use)."
    )
    current: bool = Field(description="Whether this is the sign-in making the request.")


OneTimeCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=6, max_length=20),
    Field(description="The 6 digits your authenticator app shows now, or a recovery code."),
]


class TotpStart(InputModel):
    """Turning on two-step sign-in needs the password, so a borrowed session cannot do it."""

    password: Password


class TotpEnrolmentOut(OutputModel):
    secret: str = Field(description="The key to type into an authenticator app by hand.")
    otpauth_uri: str = Field(
        description="The same key as an `otpauth://` URI: show it as a QR code to scan."
    )


class CodeIn(InputModel):
    code: OneTimeCode


class SecondFactorOff(InputModel):
    password: Password
    code: OneTimeCode


class RecoveryCodesOut(OutputModel):
    recovery_codes: list[str] = Field(
        description="Single-use codes that stand in for the app. Shown this once: keep them "
        "somewhere safe. Each works once; a new set replaces the old."
    )


class SecondFactorOut(OutputModel):
    enabled: bool = Field(description="Whether sign-in asks for a code from an app.")
    enabled_at: UTCDateTime | None
    recovery_codes_left: int
    this_sign_in_verified: bool = Field(
        description="Whether the sign-in making this request passed the second factor."
    )
    required: bool = Field(
        description="Whether the service requires it of you (admins and clinic staff): admin "
        "and clinic routes answer 403 until this sign-in passed it."
    )
