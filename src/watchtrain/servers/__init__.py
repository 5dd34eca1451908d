"""Local dashboard servers the course starts for learners, tests and the demo.

Each tool has its own small module (`visdom`; TensorBoard and Netron join later). They share
`ports` (a free port, waiting until a port answers) and `errors.ServerError`, whose message
says why a server could not start and what to do. Every server binds 127.0.0.1 unless asked
otherwise, and stops cleanly.
"""
