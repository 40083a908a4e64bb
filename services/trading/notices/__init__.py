"""Tender notices (招标公告), clarifications and amendments (澄清/修改), objections to the tender
documents (异议) and the notifications they send, with the public read of notices (电子招标投标办法
第九条)."""
