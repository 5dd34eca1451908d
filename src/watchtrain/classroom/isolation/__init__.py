"""What keeps one graded submission from hurting the grader, the machine or other submissions:
resource limits, time limits, its own HOME and tmp, a scrubbed environment, loopback-only network."""
