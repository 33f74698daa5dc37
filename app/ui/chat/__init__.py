"""The chat mode: the conversation list, the messages, the composer and the Qt wiring to the chat core."""
