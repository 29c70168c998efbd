"""Rewrites: the rule library as data, bounded equality saturation on egglog, rule checking."""
