"""Voice benchmarks that print JSON (made-up audio, the virtual microphone); not part of the app bundle."""
