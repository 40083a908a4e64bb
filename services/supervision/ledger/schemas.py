"""What the ledger endpoints answer. Hashes are hex; signatures and keys base64."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TreeHeadOut(BaseModel):
    """A signed tree head exactly as ``tools/verify_audit.py --tree-head`` reads it: save it as is."""

    tree_size: int
    root_hash: str = Field(description="RFC 6962 root of the first tree_size leaves, hex")
    chain_head: str = Field(description="hash chain value after leaf tree_size - 1, hex")
    timestamp: str = Field(description="database time of signing, ISO 8601 UTC with microseconds")
    key_id: str = Field(description="first 8 bytes of SHA-256 of the raw public key, hex")
    signature: str = Field(description="Ed25519 over the JINCHENG-AUDIT-STH-V1 bytes, base64")


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key: str = Field(description="the 32 raw public key bytes, base64")
    public_key_pem: str
    tree_head_format: str = Field(description="how the signed bytes are laid out")


class InclusionProofOut(BaseModel):
    event_id: str
    leaf_index: int
    leaf_hash: str = Field(description="SHA-256(0x00 || canonical JSON of the event's wire fields), hex")
    tree_size: int
    root_hash: str
    audit_path: list[str] = Field(description="RFC 6962 §2.1.1 PATH, nearest the leaf first, hex")
    tree_head: TreeHeadOut | None = Field(description="the signed tree head of this size, if one was signed")


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="RFC 6962 §2.1.2 PROOF(first, D[second]), hex")
