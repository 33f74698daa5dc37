"""The main window: sidebar | (chat view over composer), a status line, menus and Mac shortcuts.

The right-hand side is a stack of mode views; chat is the first. `add_mode_view(name, widget)` adds
another (the coding agent's view) and `show_mode(name)` switches to it. The composer's microphone
button is `window.composer.mic_button`, driven by `window.voice_input` (`VoiceController`: the
microphone, push-to-talk, hands-free, barge-in); a spoken turn goes through `window.voice`
(`app.chat.VoiceTurn`: start, append samples, finish). The chat's rules are
`window.controller.core` (`app.chat.ChatCore`); `window.controller` wires it to the widgets.

The sidebar lists chats and agent runs together: a click opens a chat in the chat view and an
agent run in the agent view (`open_conversation`), switching the mode as needed, and the row
highlighted is the conversation the mode shown has open.

On start the window asks the engine to load the configured model. With none configured it uses the
demo checkpoint (random weights, generated once into the data folder) and says so in the status line.
Size, layout and the open conversation are restored from settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.chat import VoiceTurn
from app.store import AGENT_RUN, Store
from app.ui.agent.controller import AgentController
from app.ui.agent.model_source import EngineModelSource
from app.ui.agent.view import AgentView
from app.ui.chat.composer import Composer
from app.ui.chat.controller import ConversationController
from app.ui.chat.notice_banner import NoticeBanner
from app.ui.chat.sidebar import Sidebar
from app.ui.chat.view import ChatView
from app.ui.engine_bridge import EngineBridge
from app.ui.model.texts import demo_failure_text, load_failure_text
from app.ui.settings import Key, Settings
from app.ui.status_bar import StatusLine
from app.ui.tasks import Tasks
from app.ui.voice.controller import VoiceController
from app.ui.widgets.theme import style_sheet
from engine import protocol as ev

log = logging.getLogger(__name__)

DEMO_FOLDER = "models/tandem-demo-tiny"

MakeCheckpoint = Callable[[Path], None]


def make_demo_checkpoint(path: Path) -> None:
    from engine.checkpoint import make_checkpoint  # heavy import, only on first run

    make_checkpoint(path, shape="tiny")


class MainWindow(QMainWindow):
    def __init__(self, store: Store, settings: Settings, bridge: EngineBridge,
                 make_demo: MakeCheckpoint = make_demo_checkpoint,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.settings, self.bridge = store, settings, bridge
        self._make_demo = make_demo
        self._tasks = Tasks(self)
        self.setObjectName("MainWindow")
        self.setWindowTitle("Tandem")
        self.setAcceptDrops(True)
        self.resize(1100, 740)
        self.setMinimumSize(640, 420)

        self.sidebar = Sidebar()
        self.sidebar.setMinimumWidth(180)
        self.chat_view = ChatView()
        self.composer = Composer()
        self.banner = NoticeBanner()  # a model that could not be loaded or made, and what to do
        chat_page = QWidget()
        chat_page.setObjectName("ChatArea")
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.setSpacing(0)
        chat_layout.addWidget(self.banner)
        chat_layout.addWidget(self.chat_view, 1)
        chat_layout.addWidget(self.composer)
        self.modes = QStackedWidget()
        self._mode_pages: dict[str, QWidget] = {}
        self._mode_actions: dict[str, QAction] = {}
        self.add_mode_view("chat", chat_page, "Chat")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setHandleWidth(1)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.modes)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([250, 850])
        self.setCentralWidget(self.splitter)
        self.status_line = StatusLine()
        self.setStatusBar(self.status_line)

        self.controller = ConversationController(store, bridge, settings, self.chat_view,
                                                 self.composer, self.sidebar, self.status_line, self)
        self.voice = VoiceTurn(self.controller.core, self.composer.show_error)  # the mic drives it
        self.voice_input = VoiceController(self.voice, self.controller.core, bridge, self.composer,
                                           self.chat_view, settings, self)
        agent_models = EngineModelSource(bridge, settings, self)
        self.agent_controller = AgentController(store.root, agent_models, parent=self)
        self.agent_view = AgentView(settings, store, self.agent_controller)
        agent_models.text_streamed.connect(self.agent_view.show_partial)
        self.add_mode_view("agent", self.agent_view, "Coding Agent")
        self._wire_sidebar()
        bridge.model_loaded.connect(self._on_model_loaded)
        self.controller.model_load_failed.connect(self._on_model_failed)
        self.chat_view.get_model_requested.connect(self.open_model_manager)
        self.chat_view.column_placed.connect(self.composer.align_to_column)  # one column, one edge
        bridge.turn_finished.connect(self.status_line.request_ended)  # a stopped prefill, too
        bridge.error_raised.connect(self.status_line.request_ended)
        bridge.event_received.connect(self.status_line.show_memory_event)  # evicted to disk / read back
        self._memory_note_shown = False  # the GPU limit note is said once per window
        self._build_menus()
        self._apply_theme()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._apply_theme)
        self._restore()

    # ------------------------------------------------------------ modes (chat, agent, ...)

    def add_mode_view(self, name: str, widget: QWidget, title: str = "") -> QAction:
        """Add a view beside the chat (the coding agent's); View ▸ title (Ctrl/Cmd+N) shows it."""
        if name in self._mode_pages:
            raise ValueError(f"A view named {name!r} is already in the window.")
        self._mode_pages[name] = widget
        self.modes.addWidget(widget)
        action = QAction(title or name.capitalize(), self)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(f"Ctrl+{len(self._mode_pages)}"))
        action.triggered.connect(lambda: self.show_mode(name))
        self._mode_actions[name] = action
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(action)
        self.addAction(action)
        action.setChecked(len(self._mode_pages) == 1)
        return action

    def show_mode(self, name: str) -> None:
        self.modes.setCurrentWidget(self._mode_pages[name])
        for other, action in self._mode_actions.items():
            action.setChecked(other == name)
        self.controller.refresh_sidebar()  # its highlighted row is the mode's conversation

    # ------------------------------------------------------------ the sidebar: chats and agent runs

    def _wire_sidebar(self) -> None:
        self.controller.sidebar_selection = self._sidebar_selection
        self.sidebar.conversation_selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(lambda: self.show_mode("chat"))
        self.sidebar.delete_requested.connect(self.agent_view.forget_run)  # after the store's
        self.agent_view.run_shown.connect(self._agent_run_shown)
        self.agent_view.runs_changed.connect(self.controller.refresh_sidebar)

    def open_conversation(self, conversation_id: str) -> None:
        """Open a chat in the chat view or an agent run in the agent view, and show that mode."""
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return
        if conversation.kind == AGENT_RUN:
            if self.agent_view.open_run(conversation_id):
                self.show_mode("agent")
        else:
            self.controller.open_conversation(conversation_id)
            self.show_mode("chat")

    def _sidebar_selection(self) -> str | None:
        if self.modes.currentWidget() is self.agent_view:
            return self.agent_view.shown_id or None
        return self.controller.core.current_id

    def _agent_run_shown(self, conversation_id: str) -> None:
        if conversation_id:
            self.settings.set_value(Key.LAST_CONVERSATION, conversation_id)
        self.controller.refresh_sidebar()

    # ------------------------------------------------------------ engine and model

    def start(self) -> None:
        """Start the engine thread and load the model (the demo checkpoint on first run)."""
        self.bridge.start()
        self.load_model()

    def load_model(self) -> None:
        path = self.settings.value(Key.MODEL_PATH)
        if path:
            self._submit_load(path)
            return
        demo = self.demo_path()
        if (demo / "config.json").exists():
            self._load_demo(str(demo))
            return
        self.banner.dismiss()
        self.status_line.set_loading("Creating the demo model (random weights)…")
        self._tasks.run_in_background(
            lambda: self._make_demo(demo),
            on_done=lambda _: self._load_demo(str(demo)),
            on_failure=lambda exc: self._on_demo_failed(demo, exc),
            name="demo-checkpoint",
        )

    def demo_path(self) -> Path:
        return self.store.root / DEMO_FOLDER

    def _load_demo(self, path: str) -> None:
        self.settings.set_value(Key.MODEL_PATH, path)  # first run uses the demo by default
        self._submit_load(path)

    def _submit_load(self, path: str) -> None:
        drafter = self.settings.value(Key.DRAFTER_PATH) or None
        if self.settings.is_set(Key.USE_DRAFTER) and not self.settings.value(Key.USE_DRAFTER):
            drafter = None  # turned off by the person (the device's default is known after loading)
        self.banner.dismiss()
        self.setWindowTitle("Tandem")  # says "demo model" again only once the demo model is in
        self.status_line.set_loading(f"Loading {Path(path).name or path}…")
        self.controller.load_model(ev.LoadModel(path=path, drafter_path=drafter))

    def _on_model_loaded(self, event: ev.ModelLoaded) -> None:
        self.settings.set_default(Key.USE_DRAFTER, event.drafter_pays_off)
        demo = event.random_weights
        self.setWindowTitle("Tandem — demo model (random weights)" if demo else "Tandem")
        self.chat_view.set_demo_model(demo)
        self.banner.dismiss()
        if event.memory_note and not self._memory_note_shown:
            self._memory_note_shown = True
            self.banner.show_notice("The GPU can use only part of this Mac's memory", event.memory_note,
                                    [("OK", self.banner.dismiss)])

    def _on_model_failed(self, engine_message: str) -> None:
        """A load failed: the status line says so in three words, the banner says why and what next."""
        path = self.settings.value(Key.MODEL_PATH)
        self.setWindowTitle("Tandem — no model loaded")
        self.status_line.set_loading("No model loaded")
        log.warning("The model at %s did not load: %s", path, engine_message)  # for bug reports
        self.chat_view.set_demo_model(False)
        actions = [("Manage Models…", self.open_model_manager), ("Settings…", self.open_settings)]
        if Path(path) != self.demo_path():
            actions.append(("Use the Demo Model", lambda: self._use_model("")))
        self.banner.show_notice("The model could not be loaded", load_failure_text(path), actions)

    def _on_demo_failed(self, folder: Path, error: BaseException) -> None:
        log.warning("The demo model could not be made in %s: %s", folder, error)
        self.setWindowTitle("Tandem — no model loaded")
        self.status_line.set_loading("No model loaded")
        self.banner.show_notice("The demo model could not be made", demo_failure_text(folder),
                                [("Try Again", self.load_model),
                                 ("Manage Models…", self.open_model_manager)])

    # ------------------------------------------------------------ menus and shortcuts

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = self._action(file_menu, "New Chat", QKeySequence.StandardKey.New,
                                       self.sidebar.new_requested.emit)  # as its button does
        self.settings_action = self._action(file_menu, "Settings…", QKeySequence.StandardKey.Preferences,
                                            self.open_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addSeparator()
        quit_action = self._action(file_menu, "Quit Tandem", QKeySequence.StandardKey.Quit, self.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.find_action = self._action(edit_menu, "Find Conversation", QKeySequence.StandardKey.Find,
                                        self.sidebar.focus_search)
        chat_menu = self.menuBar().addMenu("&Conversation")
        self.stop_action = self._action(chat_menu, "Stop", QKeySequence(Qt.Key.Key_Escape),
                                        self._escape)
        self._action(chat_menu, "Regenerate", QKeySequence("Ctrl+R"), self.controller.regenerate)
        chat_menu.addSeparator()
        self.export_action = self._action(chat_menu, "Export as Markdown…", QKeySequence("Ctrl+Shift+E"),
                                          lambda: self.controller.export())
        self.view_menu = self.menuBar().addMenu("&View")
        for action in self._mode_actions.values():
            self.view_menu.addAction(action)
        model_menu = self.menuBar().addMenu("&Model")
        self._action(model_menu, "Manage Models…", None, self.open_model_manager)
        # Preferences has no standard key on Linux; Cmd+, is the Mac convention everywhere.
        self.settings_shortcut = self.settings_action.shortcut()
        if self.settings_shortcut.isEmpty():
            self.settings_shortcut = QKeySequence("Ctrl+,")
            QShortcut(self.settings_shortcut, self, self.open_settings)

    def _action(self, menu, text: str, key, slot) -> QAction:
        action = QAction(text, self)
        if key is not None:
            action.setShortcut(key)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _escape(self) -> None:
        if self.modes.currentWidget() is self.agent_view:
            self.agent_view.stop()
            return
        if self.controller.core.answering:
            self.controller.stop()
        else:
            self.composer.cancel_edit()

    def open_settings(self) -> None:
        from app.ui.model.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and dialog.model_changed:
            self.load_model()

    def open_model_manager(self) -> None:
        from app.ui.model.manager import ModelManagerDialog

        dialog = ModelManagerDialog(self.store.root / "models", self,
                                    current_model=self.settings.value(Key.MODEL_PATH) or "")
        dialog.model_chosen.connect(self._use_model)
        dialog.demo_requested.connect(lambda: self._use_model(""))
        dialog.exec()

    def _use_model(self, path: str) -> None:
        """Load `path`; "" means the demo checkpoint."""
        self.settings.set_value(Key.MODEL_PATH, path)
        self.load_model()

    # ------------------------------------------------------------ drops anywhere in the window

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        agent = self.modes.currentWidget() is self.agent_view
        if (self.agent_view.composer if agent else self.composer).offer_mime(event.mimeData()):
            event.acceptProposedAction()

    # ------------------------------------------------------------ appearance and state

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()  # macOS switched between light and dark
        super().changeEvent(event)

    def _apply_theme(self) -> None:
        sheet = style_sheet(self.palette())
        if sheet != self.styleSheet():
            self.setStyleSheet(sheet)

    def _restore(self) -> None:
        geometry = self.settings.value(Key.WINDOW_GEOMETRY)
        if geometry:
            self.restoreGeometry(geometry)
        state = self.settings.value(Key.WINDOW_STATE)
        if state:
            self.restoreState(state)
        splitter = self.settings.value(Key.SPLITTER_STATE)
        if splitter:
            self.splitter.restoreState(splitter)
        last = self.settings.value(Key.LAST_CONVERSATION)
        if last:
            self.open_conversation(last)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_value(Key.WINDOW_GEOMETRY, self.saveGeometry())
        self.settings.set_value(Key.WINDOW_STATE, self.saveState())
        self.settings.set_value(Key.SPLITTER_STATE, self.splitter.saveState())
        self.settings.sync()
        self.voice_input.shutdown()  # what is being said is stored and sent first
        self.agent_controller.stop()  # the run checkpoints what it changed, then ends
        self.controller.stop_all()  # partial answers are stored now, not after the engine replies
        super().closeEvent(event)
