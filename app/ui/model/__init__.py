"""Choosing and configuring the model: the model manager and the settings dialog."""
