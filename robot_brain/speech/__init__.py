"""Hearing and speaking: audio sources, voice activity, Whisper, the stop word, TTS and playback."""
