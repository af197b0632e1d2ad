"""The brain: vision-language model back-ends that answer a turn about the latest camera frame."""
