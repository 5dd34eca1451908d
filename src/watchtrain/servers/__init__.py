"""Local dashboard servers the course starts for learners, tests and the demo.

Each tool has its own small module (`visdom`, `tensorboard`, `netron`). They share `ports` (a
free port, whether one is taken, waiting until one answers), `processes.stop_process` and
`errors.ServerError`, whose
message says why a server could not start and what to do. Every server binds 127.0.0.1 unless
asked otherwise, and stops cleanly.
"""
