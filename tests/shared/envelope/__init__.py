"""Tests of the JCBID1 bid envelope: sealing, upload verification, opening and the bidder CLI."""
