"""The learner worker: the only place where a learner's `exercise.py` is imported and run.

It runs jailed (classroom/isolation/jail.py), forked from a process that has done the heavy imports,
one fresh child per call, and sends back plain data only. The checker (pytest with our plugin)
never imports anything from a submission; see grading/submission.py for the checker's side.
"""
