"""The open bid envelope JCBID1 (电子招标投标办法 Art. 16: an open format and a free tool to seal bids).

Bidders seal (:func:`seal`), the trading service verifies uploads (:class:`EnvelopeReader`) without being
able to read them, and at opening decrypts with the key the bidder releases (:func:`open_envelope`).
The byte format is specified in docs/bid-envelope.md.
"""

from shared.envelope.bid_form import BidForm, ProjectManager, build_plaintext_zip, read_bid_form
from shared.envelope.errors import EnvelopeRejected, EnvelopeRejectionReason
from shared.envelope.header import (
    MAGIC,
    MAX_HEADER_LENGTH,
    Declared,
    EnvelopeHeader,
    SignedFields,
    encode_header,
    parse_header,
    read_header,
    verify_header_identity,
    verify_header_signature,
)
from shared.envelope.opening import KeyRelease, content_key_for, key_release_for, open_envelope, parse_key_release
from shared.envelope.reader import CiphertextCounter, EnvelopeFeed, EnvelopeReader, verify_envelope_header
from shared.envelope.sealing import DEFAULT_TOOL, Signer, SigningKey, load_signing_key, seal, signer_for
from shared.envelope.streams import CHUNK_SIZE, iter_chunks

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_TOOL",
    "MAGIC",
    "MAX_HEADER_LENGTH",
    "BidForm",
    "CiphertextCounter",
    "Declared",
    "EnvelopeFeed",
    "EnvelopeHeader",
    "EnvelopeReader",
    "EnvelopeRejected",
    "EnvelopeRejectionReason",
    "KeyRelease",
    "ProjectManager",
    "SignedFields",
    "Signer",
    "SigningKey",
    "build_plaintext_zip",
    "content_key_for",
    "encode_header",
    "iter_chunks",
    "key_release_for",
    "load_signing_key",
    "open_envelope",
    "parse_header",
    "parse_key_release",
    "read_bid_form",
    "read_header",
    "seal",
    "signer_for",
    "verify_envelope_header",
    "verify_header_identity",
    "verify_header_signature",
]
