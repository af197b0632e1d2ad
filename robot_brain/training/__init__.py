"""Training robot_brain's own models: the demo brain and ear, and fine-tuning a profile on a robot's data."""
