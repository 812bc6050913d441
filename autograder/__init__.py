"""Instructor tools: the student release, nbgrader grading, and (later) the CSV checker."""
