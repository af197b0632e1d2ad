"""`robot-brain demo`: the whole pipeline on a laptop — webcam or file in, voice or text in, a live view out."""
