"""Access tokens that must not get in: every way a bearer token can be wrong is a 401.

Forged tokens are built by hand with the test secret so that exactly one thing
is wrong and everything else is valid; the positive control shows that a token
built the same way with nothing wrong is accepted, so each refusal below is
for the one reason its test names.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from httpx2 import Response
from jose import jwt

from app.core.db import Database
from app.core.jwt import InvalidTokenError, TokenCodec, TokenType
from app.identity.deps import TOKEN_CODEC
from app.identity.models import User
from tests.conftest import Person, PersonFactory

ME = "/v1/me"
OTHER_SECRET = b"another-secret-that-is-long-enough-" + b"y" * 16


# ---------------------------------------------------------------------------
# Helpers


def codec_of(client: TestClient) -> TokenCodec:
    return TOKEN_CODEC.of_app(client.app)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return value


def family_of(person: Person) -> str:
    claims: dict[str, Any] = jwt.get_unverified_claims(person.access_token)
    family: str = claims["fam"]
    return family


def good_claims(client: TestClient, person: Person) -> dict[str, Any]:
    """Claims the app would accept for `person`'s current sign-in."""
    codec = codec_of(client)
    now = int(time.time())
    return {
        "sub": str(person.id),
        "typ": TokenType.ACCESS.value,
        "iss": codec.issuer,
        "aud": codec.audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "fam": family_of(person),
    }


def sign(
    claims: dict[str, Any],
    key: bytes | str,
    *,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    token: str = jwt.encode(claims, key, algorithm=algorithm, headers=headers)
    return token


def sign_for(client: TestClient, claims: dict[str, Any], *, algorithm: str = "HS256") -> str:
    return sign(claims, codec_of(client).secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 401
    assert problem["instance"] == ME
    assert "email" not in problem  # the account is never shown


def assert_refused(client: TestClient, token: str) -> None:
    assert_unauthorized(client.get(ME, headers=bearer(token)))


# ---------------------------------------------------------------------------
# Positive controls


def test_the_real_access_token_is_accepted(client: TestClient, member: Person) -> None:
    response = client.get(ME, headers=member.headers)
    assert response.status_code == 200
    assert response.json()["id"] == member.id


def test_a_well_formed_token_built_by_hand_is_accepted(client: TestClient, member: Person) -> None:
    """The control for every forged token below: built the same way, nothing wrong."""
    token = sign_for(client, good_claims(client, member))
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == member.id


def test_an_iat_within_the_leeway_is_accepted(client: TestClient, member: Person) -> None:
    claims = good_claims(client, member)
    claims["iat"] += max(codec_of(client).leeway_seconds - 5, 0)
    assert client.get(ME, headers=bearer(sign_for(client, claims))).status_code == 200


# ---------------------------------------------------------------------------
# No token, garbage


def test_no_token_at_all_is_refused(client: TestClient) -> None:
    response = client.get(ME)
    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Bearer a.b.c", "Bearer ", "Bearer ...", "Bearer e30.e30.", "Basic dTpw"],
    ids=["word", "three-parts", "empty", "dots", "empty-json", "basic-scheme"],
)
def test_a_garbage_authorization_header_is_refused(client: TestClient, authorization: str) -> None:
    assert_unauthorized(client.get(ME, headers={"Authorization": authorization}))


def test_a_malformed_token_gets_the_invalid_token_challenge(client: TestClient) -> None:
    response = client.get(ME, headers=bearer("a.b.c"))
    assert_unauthorized(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# ---------------------------------------------------------------------------
# Algorithms


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(
    client: TestClient, member: Person, alg: str
) -> None:
    token = (
        b64url_json({"alg": alg, "typ": "JWT"}) + "." + b64url_json(good_claims(client, member))
    ) + "."
    assert_refused(client, token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_signed_with_another_hmac_algorithm_is_refused(
    client: TestClient, member: Person, algorithm: str
) -> None:
    token = sign_for(client, good_claims(client, member), algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert_refused(client, token)


def test_a_token_signed_with_rs256_is_refused(client: TestClient, member: Person) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    token = sign(good_claims(client, member), pem, algorithm="RS256")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert_refused(client, token)


def test_an_access_token_signed_with_a_different_secret_is_refused(
    client: TestClient, member: Person
) -> None:
    assert_refused(client, sign(good_claims(client, member), OTHER_SECRET))


# ---------------------------------------------------------------------------
# Claims


def test_an_expired_token_is_refused(client: TestClient, member: Person) -> None:
    claims = good_claims(client, member)
    claims["iat"] -= 7200
    claims["exp"] = claims["iat"] + 3600  # an hour ago, far beyond the leeway
    assert_refused(client, sign_for(client, claims))


def test_an_iat_in_the_future_beyond_the_leeway_is_refused(
    client: TestClient, member: Person
) -> None:
    claims = good_claims(client, member)
    claims["iat"] += codec_of(client).leeway_seconds + 3600
    claims["exp"] = claims["iat"] + 600  # exp stays after iat: only iat is wrong
    assert_refused(client, sign_for(client, claims))


def test_a_wrong_audience_is_refused(client: TestClient, member: Person) -> None:
    claims = good_claims(client, member) | {"aud": "someone-else"}
    assert_refused(client, sign_for(client, claims))


def test_a_wrong_issuer_is_refused(client: TestClient, member: Person) -> None:
    claims = good_claims(client, member) | {"iss": "https://evil.example"}
    assert_refused(client, sign_for(client, claims))


@pytest.mark.parametrize("typ", ["client", "refresh", "ACCESS", ""])
def test_a_wrong_token_type_is_refused(client: TestClient, member: Person, typ: str) -> None:
    claims = good_claims(client, member) | {"typ": typ}
    assert_refused(client, sign_for(client, claims))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "aud", "iss", "typ", "fam"])
def test_a_token_missing_a_required_claim_is_refused(
    client: TestClient, member: Person, claim: str
) -> None:
    claims = good_claims(client, member)
    del claims[claim]
    assert_refused(client, sign_for(client, claims))


@pytest.mark.parametrize("sub", ["not-a-number", "999999", ""])
def test_a_subject_that_is_no_account_is_refused(
    client: TestClient, member: Person, sub: str
) -> None:
    claims = good_claims(client, member) | {"sub": sub}
    assert_refused(client, sign_for(client, claims))


def test_a_family_of_another_user_is_refused(
    client: TestClient, make_person: PersonFactory
) -> None:
    alice, bob = make_person(), make_person()
    claims = good_claims(client, alice) | {"fam": family_of(bob)}
    assert_refused(client, sign_for(client, claims))


# ---------------------------------------------------------------------------
# Tampering


def test_a_tampered_signature_is_refused(client: TestClient, member: Person) -> None:
    header, payload, signature = member.access_token.split(".")
    # Change a character in the middle: the last one may only carry padding bits.
    middle = len(signature) // 2
    replacement = "A" if signature[middle] != "A" else "B"
    forged = signature[:middle] + replacement + signature[middle + 1 :]
    assert forged != signature
    assert_refused(client, f"{header}.{payload}.{forged}")


def test_a_tampered_payload_that_keeps_the_signature_is_refused(
    client: TestClient, make_person: PersonFactory
) -> None:
    alice, bob = make_person(), make_person()
    header, payload, signature = alice.access_token.split(".")
    claims = b64url_decode_json(payload) | {"sub": str(bob.id)}
    assert_refused(client, f"{header}.{b64url_json(claims)}.{signature}")
    assert client.get(ME, headers=alice.headers).status_code == 200


def test_a_refresh_token_is_refused_as_an_access_token(client: TestClient, member: Person) -> None:
    assert_refused(client, member.refresh_token)


# ---------------------------------------------------------------------------
# Tokens that were good and stopped being good


def test_a_token_of_a_user_disabled_after_issue_is_refused_on_the_next_request(
    client: TestClient, database: Database, member: Person
) -> None:
    assert client.get(ME, headers=member.headers).status_code == 200
    with database.write_session() as session:
        user = session.get(User, member.id)
        assert user is not None
        user.disabled = True
        session.add(user)
    assert_refused(client, member.access_token)


def test_a_token_of_a_logged_out_sign_in_is_refused(client: TestClient, member: Person) -> None:
    assert client.get(ME, headers=member.headers).status_code == 200
    assert client.post("/v1/auth/logout", headers=member.headers).status_code == 204
    assert_refused(client, member.access_token)
    # A hand-built token of the same family is refused too: the family is what ended.
    assert_refused(client, sign_for(client, good_claims(client, member)))


def test_logout_without_a_token_is_refused(client: TestClient) -> None:
    response = client.post("/v1/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------
# TokenCodec on its own: token types never stand in for each other

UNIT_CODEC = TokenCodec(secret=b"unit-test-secret-" + b"z" * 32, issuer="iss", audience="aud")


@pytest.mark.parametrize(
    ("issued", "expected"),
    list(itertools.permutations(TokenType, 2)),
    ids=lambda t: str(t),
)
def test_a_token_of_one_type_never_decodes_as_another(
    issued: TokenType, expected: TokenType
) -> None:
    token, _ = UNIT_CODEC.encode(subject="1", token_type=issued, ttl_seconds=60)
    with pytest.raises(InvalidTokenError):
        UNIT_CODEC.decode(token, expected=expected)


@pytest.mark.parametrize("token_type", list(TokenType), ids=str)
def test_a_token_decodes_as_its_own_type(token_type: TokenType) -> None:
    token, claims = UNIT_CODEC.encode(
        subject="1", token_type=token_type, ttl_seconds=60, extra={"fam": "f"}
    )
    assert UNIT_CODEC.decode(token, expected=token_type) == claims


def test_the_codec_refuses_a_token_for_another_audience() -> None:
    other = TokenCodec(secret=UNIT_CODEC.secret, issuer="iss", audience="another-api")
    token, _ = other.encode(subject="1", token_type=TokenType.ACCESS, ttl_seconds=60)
    with pytest.raises(InvalidTokenError):
        UNIT_CODEC.decode(token, expected=TokenType.ACCESS)


# ---------------------------------------------------------------------------
# Signed tokens with claims of the wrong JSON type


@pytest.mark.parametrize(
    ("claim", "value"),
    [("iat", None), ("exp", None), ("iat", [1]), ("exp", {}), ("iat", True), ("exp", "soon")],
    ids=["iat-null", "exp-null", "iat-list", "exp-object", "iat-bool", "exp-string"],
)
def test_the_codec_refuses_a_signed_token_whose_time_claim_is_not_a_number(
    claim: str, value: Any
) -> None:
    _, claims = UNIT_CODEC.encode(subject="1", token_type=TokenType.ACCESS, ttl_seconds=60)
    forged = sign(claims | {claim: value}, UNIT_CODEC.secret)
    with pytest.raises(InvalidTokenError):
        UNIT_CODEC.decode(forged, expected=TokenType.ACCESS)


def test_a_signed_token_with_a_null_iat_is_a_401_not_a_500(
    client: TestClient, member: Person
) -> None:
    claims = good_claims(client, member) | {"iat": None}
    quiet = TestClient(client.app, raise_server_exceptions=False)
    assert_unauthorized(quiet.get(ME, headers=bearer(sign_for(client, claims))))
