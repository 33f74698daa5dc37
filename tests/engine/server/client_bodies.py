"""Request bodies shaped like those Codex CLI and Claude Code send, made from their documented
formats (Codex: codex-rs `ResponsesApiRequest` and `ResponseItem`; Claude Code: the Messages API
with its system blocks, cache_control, tools, adaptive thinking, context management, metadata,
mid-conversation system messages and system reminders beside tool results)."""

BASH_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The command to execute"},
        "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
        "description": {"type": "string"},
        "run_in_background": {"type": "boolean"},
    },
    "required": ["command"],
    "additionalProperties": False,
}
TODO_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"todos": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "content": {"type": "string", "minLength": 1},
            "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
            "activeForm": {"type": "string", "minLength": 1},
        },
        "required": ["content", "status", "activeForm"],
        "additionalProperties": False,
    }}},
    "required": ["todos"],
    "additionalProperties": False,
}

CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
                      "context-management-2025-06-27,mid-conversation-system",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-app": "cli",
    "User-Agent": "claude-cli/2.1.5 (external, cli)",
}


def claude_code_first() -> dict:
    return {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "stream": True,
        "temperature": 1,
        "metadata": {"user_id": "user_0f3a_account_9c1e_session_5b7d"},
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "You are an interactive CLI tool that helps users with "
                                     "software engineering tasks.",
             "cache_control": {"type": "ephemeral"}},
        ],
        "tools": [
            {"name": "Bash", "description": "Executes a bash command", "input_schema": BASH_SCHEMA},
            {"name": "TodoWrite", "description": "Update the todo list",
             "input_schema": TODO_SCHEMA, "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nThis is a reminder.\n</system-reminder>"},
            {"type": "text", "text": "list the files here",
             "cache_control": {"type": "ephemeral"}},
        ]}],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }


def claude_code_follow_up(first: dict, answer_blocks: list[dict]) -> dict:
    """The next request: the model's answer, a tool use, its result with a reminder beside it, and a
    mid-conversation system message."""
    body = first | {"messages": first["messages"] + [
        {"role": "assistant", "content": answer_blocks + [
            {"type": "tool_use", "id": "toolu_01A", "name": "Bash",
             "input": {"command": "ls", "description": "List files"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.py\nb.py",
             "is_error": False, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "<system-reminder>Todo list is empty.</system-reminder>"},
        ]},
        {"role": "system", "content": "The user prefers short answers."},
    ]}
    return body


def codex_first() -> dict:
    return {
        "model": "gpt-5-codex",
        "instructions": "You are Codex, based on GPT-5. You are running as a coding agent.",
        "input": [
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": "<permissions instructions>sandbox: workspace-write"
                                               "</permissions instructions>"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "<environment_context>\n  <cwd>/work</cwd>\n"
                                               "</environment_context>"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "list the files"}]},
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Runs a shell command",
             "strict": False, "parameters": {"type": "object", "properties": {
                 "command": {"type": "array", "items": {"type": "string"}},
                 "workdir": {"type": "string"}, "timeout_ms": {"type": "number"}},
                 "required": ["command"], "additionalProperties": False}},
            {"type": "function", "name": "update_plan", "description": "Updates the plan",
             "strict": False, "parameters": {"type": "object", "properties": {
                 "plan": {"type": "array", "items": {"type": "object", "properties": {
                     "step": {"type": "string"}, "status": {"type": "string"}},
                     "required": ["step", "status"], "additionalProperties": False}}},
                 "required": ["plan"], "additionalProperties": False}},
            {"type": "web_search"},
            {"type": "namespace", "name": "mcp__docs", "description": "MCP tools", "tools": []},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "text": {"verbosity": "medium"},
    }


def codex_follow_up(first: dict, output_items: list[dict]) -> dict:
    """Codex keeps no server state (store: false): it sends the whole history, its own earlier
    output items (reasoning with encrypted_content, the message) included, then a new message."""
    return first | {"input": first["input"] + output_items + [
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "now show a.py"}]}]}
