"""Classroom tools for the instructor: the student handout, batch grading that survives bad
submissions, and the Gradescope / GitHub Classroom adapters. Nothing here runs for a learner."""
