"""The coding agent mode: its view, timeline, approvals, diffs and the Qt glue around app.agent."""
