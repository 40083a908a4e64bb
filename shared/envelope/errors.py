"""The one exception of the envelope package, with a stable reason code per refusal."""

from __future__ import annotations

from typing import Literal

from shared.certificates import RejectionReason

# Stable codes: the trading service maps them to its error body and bidders' tools may switch on them.
EnvelopeRejectionReason = Literal[
    "not_an_envelope",
    "header_too_large",
    "malformed_header",
    "bad_signature",
    "untrusted_certificate",
    "identity_mismatch",
    "wrong_lot",
    "wrong_bidder",
    "digest_mismatch",
    "length_mismatch",
    "wrong_key",
    "plaintext_digest_mismatch",
    "bad_bid_form",
]


class EnvelopeRejected(Exception):
    """A sealed bid (or its key, or its content) must not be accepted.

    ``message`` is written for the bidder, who sees it at upload or opening. ``certificate_reason`` carries
    :class:`shared.certificates.CertificateRejected`'s finer reason when the certificate was the problem.
    """

    def __init__(
        self,
        reason: EnvelopeRejectionReason,
        message: str,
        *,
        certificate_reason: RejectionReason | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: EnvelopeRejectionReason = reason
        self.message = message
        self.certificate_reason = certificate_reason
