"""Evaluation: sets of questions with expected outcomes, run through the real pipeline, scored and reported."""
