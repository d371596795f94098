"""Grading: run an exercise's tests against a submission in a child process and collect the results."""
