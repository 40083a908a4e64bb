"""Certificate login: X.509 path validation against mutually recognised CAs (数字证书互认)."""
