"""Remote evaluation (远程异地评标): sessions, check-in, scoring, the report (docs/evaluation.md)."""
