"""Figures and widgets the chapter notebooks import."""
