"""Voice in the window: the microphone controller, level meter, device picker, playable clips."""
