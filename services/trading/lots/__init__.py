"""Lots (标段/包): price, method, evaluation, deadlines and deposit rules, checked against the law."""
