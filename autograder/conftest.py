"""The autograder's pytest set-up: all of it lives in the watchtrain plugin.

    pytest autograder                  grades lessons/ (your work)
    pytest autograder --solutions      grades solutions/ (the reference)
    pytest autograder --submission D   grades folder D, shaped like lessons/
"""
pytest_plugins = ["watchtrain.grading.plugin", "watchtrain.grading.visdom_fixtures",
                  "watchtrain.grading.wandb_fixtures"]
