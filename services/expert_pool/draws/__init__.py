"""Random draws of evaluation committees (专家抽取): provably fair, sealed until the result is decided.

See docs/draw.md for the procedure and how anyone can verify a draw from its published record.
"""
