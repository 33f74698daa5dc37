"""The coding agent, without Qt: a model works in a folder through tools, with approval and undo.

Public API (each name is documented in its module):
    AgentRun(model, workspace, task, *, data_dir, on_event, mode, limits, count_tokens, ...)
        .run() -> Finished, .decide(call_id, Decision), .stop(), .undo          (app.agent.loop)
    AgentModel, Reply                     the model the loop talks to         (app.agent.model)
    ScriptedModel                         replays fixed replies              (app.agent.scripted)
    ApprovalMode, Limits, Decision        settings and answers
    events: StepStarted, ModelReplied, ToolCallProposed, ApprovalNeeded, CommandStarted,
            CommandOutput, Observation, UndoPointMade, ContextShortened, Finished(StopReason)
    UndoPoints(workspace, data_dir)       undo: list(), restore(id), undo_last() -> Undone
    UndoPoint, Undone, UndoError          an undo point, what an undo did, its failure
    SYSTEM_PROMPT, DECLARATIONS           the default prompt and the tool declarations

Earlier names, kept so that scripts written against them still run: Checkpoints (UndoPoints),
Checkpoint (UndoPoint), CheckpointError (UndoError), CheckpointMade (UndoPointMade),
`AgentRun.checkpoints` (`AgentRun.undo`).

Modules: loop (the steps), executor (one call), tools (declarations and checks), files (file
tools), workspace_io (reads and writes that follow no link), walk (.gitignore-aware walk), runner
(commands), sandbox (the sandbox policy for bubblewrap and sandbox-exec), workspace (paths),
permissions (modes), undo and undo_store (undo points), context (budget), guards (loop breaker,
format hints), control (limits, stop, approvals across threads), run_record (a run's events as
JSON records, to keep it and show it again).
"""

from app.agent.control import Limits
from app.agent.events import (
    AgentEvent,
    ApprovalNeeded,
    CheckpointMade,
    CommandOutput,
    CommandStarted,
    ContextShortened,
    Decision,
    DecisionKind,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
)
from app.agent.loop import AgentRun
from app.agent.model import AgentModel, Reply
from app.agent.permissions import ApprovalMode
from app.agent.prompt import SYSTEM_PROMPT
from app.agent.scripted import ScriptedModel
from app.agent.tools import DECLARATIONS
from app.agent.undo import Undone, UndoError, UndoPoint, UndoPoints

Checkpoints = UndoPoints  # earlier names
Checkpoint = UndoPoint
CheckpointError = UndoError

__all__ = [
    "AgentEvent", "AgentModel", "AgentRun", "ApprovalMode", "ApprovalNeeded", "Checkpoint",
    "CheckpointError", "CheckpointMade", "Checkpoints", "CommandOutput", "CommandStarted",
    "ContextShortened", "DECLARATIONS", "Decision", "DecisionKind", "Finished", "Limits",
    "ModelReplied", "Observation", "Reply", "SYSTEM_PROMPT", "ScriptedModel", "StepStarted",
    "StopReason", "ToolCallProposed", "UndoError", "UndoPoint", "UndoPointMade", "UndoPoints",
    "Undone",
]  # fmt: skip
