"""The coding agent, without Qt: a model works in a folder through tools, with approval and undo.

Public API (each name is documented in its module):
    AgentRun(model, workspace, task, *, data_dir, on_event, mode, limits, count_tokens, ...)
        .run() -> Finished, .decide(call_id, Decision), .stop(), .checkpoints   (app.agent.loop)
    AgentModel, Reply                     the model the loop talks to         (app.agent.model)
    ScriptedModel                         replays fixed replies              (app.agent.scripted)
    ApprovalMode, Limits, Decision        settings and answers
    events: StepStarted, ModelReplied, ToolCallProposed, ApprovalNeeded, CommandOutput,
            Observation, CheckpointMade, ContextShortened, Finished(StopReason)
    Checkpoints(workspace, data_dir)      undo: list(), restore(id), undo_last()
    SYSTEM_PROMPT, DECLARATIONS           the default prompt and the tool declarations

Modules: loop (the steps), executor (one call), tools (declarations and checks), files (file
tools), runner (commands), sandbox (macOS profile), workspace (paths), permissions (modes),
checkpoints (shadow git), context (budget), guards (loop breaker, format hints), control (limits,
stop, approvals across threads).
"""

from app.agent.checkpoints import Checkpoint, CheckpointError, Checkpoints
from app.agent.control import Limits
from app.agent.events import (
    AgentEvent,
    ApprovalNeeded,
    CheckpointMade,
    CommandOutput,
    ContextShortened,
    Decision,
    DecisionKind,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
)
from app.agent.loop import AgentRun
from app.agent.model import AgentModel, Reply
from app.agent.permissions import ApprovalMode
from app.agent.prompt import SYSTEM_PROMPT
from app.agent.scripted import ScriptedModel
from app.agent.tools import DECLARATIONS

__all__ = [
    "AgentEvent", "AgentModel", "AgentRun", "ApprovalMode", "ApprovalNeeded", "Checkpoint",
    "CheckpointError", "CheckpointMade", "Checkpoints", "CommandOutput", "ContextShortened",
    "DECLARATIONS", "Decision", "DecisionKind", "Finished", "Limits", "ModelReplied", "Observation",
    "Reply", "SYSTEM_PROMPT", "ScriptedModel", "StepStarted", "StopReason", "ToolCallProposed",
]  # fmt: skip
