"""Signing events-queue bodies, so the producer believes status only from the consumers.

Whoever may send to the events queue could otherwise write any message's status: mark a
failed payment `done`, say, or flood the feed. With `SQS_EVENTS_SECRET` set, consumers sign
each packed body with HMAC-SHA256 and the producer drops what does not verify. The
signature travels as a message attribute, so the body stays a plain list of events; the
`v1=` prefix leaves room for another scheme (a second key while one is rotated out) later.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

SIGNATURE_ATTRIBUTE = "signature"
"""The message attribute that carries a body's signature."""
SCHEME = "v1"
"""HMAC-SHA256 of the body's UTF-8 bytes, as lowercase hex."""


def sign(body: str, secret: SecretStr) -> str:
    """The signature of `body`: `v1=<hex>`."""
    digest = hmac.new(secret.get_secret_value().encode(), body.encode(), hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify(body: str, signature: str | None, secret: SecretStr) -> bool:
    """Whether `signature` is `body`'s under `secret`, compared in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), signature.encode())


def signature_attributes(
    body: str, secret: SecretStr | None
) -> dict[str, MessageAttributeValueTypeDef]:
    """The message attributes for sending `body`: its signature, or none without a secret."""
    if secret is None:
        return {}
    return {SIGNATURE_ATTRIBUTE: {"DataType": "String", "StringValue": sign(body, secret)}}
