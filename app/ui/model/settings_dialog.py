"""Settings: model, system prompt, sampling, thinking, image token budget, drafter, voice.

Values are written to `Settings` only on OK. `model_changed` tells the caller to reload the model.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.settings import IMAGE_BUDGETS, KV_PRECISIONS, Key, Settings
from app.ui.voice.settings_section import VoiceSettingsSection


# What the model remembers of a conversation grows with its length; at the 12B's geometry its long-range
# layers hold 16 KB per token at full precision (engine.bench.memory: 4 GB at 256K tokens).
KV_CHOICES = {
    0: "Full precision: about 0.5 GB per 32,000 tokens",
    8: "8-bit: about half that memory, answers nearly identical",
    4: "4-bit: about a quarter of that memory, answers may differ slightly",
}
KV_COST = ("How the model keeps a conversation's earlier text in memory. Smaller settings let much longer "
           "conversations fit on a 16 GB Mac. Applies to conversations opened after the change.")


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self.settings = settings
        self.model_changed = False

        self.model_path = QLineEdit(settings.value(Key.MODEL_PATH))
        self.model_path.setPlaceholderText("A folder, or a Hugging Face repo id like org/name")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(browse)
        self.drafter_path = QLineEdit(settings.value(Key.DRAFTER_PATH))
        self.drafter_path.setPlaceholderText("Optional: the MTP drafter's folder or repo id")
        self.system_prompt = QPlainTextEdit(settings.value(Key.SYSTEM_PROMPT))
        self.system_prompt.setPlaceholderText("You are a helpful assistant.")
        self.system_prompt.setFixedHeight(90)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(settings.value(Key.TEMPERATURE))
        self.temperature.setToolTip("0 picks the most likely token every time (greedy).")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(settings.value(Key.TOP_P))
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 131072)
        self.max_tokens.setValue(settings.value(Key.MAX_TOKENS))
        self.thinking = QCheckBox("Let the model think before it answers")
        self.thinking.setChecked(settings.value(Key.THINKING))
        self.image_budget = QComboBox()
        for budget in IMAGE_BUDGETS:
            self.image_budget.addItem(f"{budget} tokens per image", budget)
        self.image_budget.setCurrentIndex(IMAGE_BUDGETS.index(settings.image_budget()))
        self.kv_precision = QComboBox()
        for bits in KV_PRECISIONS:
            self.kv_precision.addItem(KV_CHOICES[bits], bits)
        bits = settings.value(Key.KV_BITS)
        self.kv_precision.setCurrentIndex(KV_PRECISIONS.index(bits if bits in KV_PRECISIONS else 0))
        self.kv_precision.setToolTip(KV_COST)
        self.drafter = QCheckBox("Use the drafter (faster, same answers)")
        self.drafter.setChecked(settings.value(Key.USE_DRAFTER))

        form = QFormLayout()
        form.addRow("Model:", model_row)
        form.addRow("Drafter model:", self.drafter_path)
        form.addRow("System prompt:", self.system_prompt)
        form.addRow("Temperature:", self.temperature)
        form.addRow("Top-p:", self.top_p)
        form.addRow("Max tokens:", self.max_tokens)
        form.addRow("", self.thinking)
        form.addRow("Image detail:", self.image_budget)
        form.addRow("Long conversations:", self.kv_precision)
        form.addRow("", self.drafter)
        self.voice = VoiceSettingsSection(settings)
        self.error_label = QLabel()
        self.error_label.setObjectName("ErrorLabel")
        self.error_label.setVisible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.voice)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    def accept(self) -> None:
        model = self.model_path.text().strip()
        if model and " " in model and "/" not in model:
            self.error_label.setText("The model must be a folder path or a repo id like org/name.")
            self.error_label.setVisible(True)
            return
        s = self.settings
        old = (s.value(Key.MODEL_PATH), s.value(Key.DRAFTER_PATH), s.value(Key.USE_DRAFTER))
        s.set_value(Key.MODEL_PATH, model)
        s.set_value(Key.DRAFTER_PATH, self.drafter_path.text().strip())
        s.set_value(Key.SYSTEM_PROMPT, self.system_prompt.toPlainText())
        s.set_value(Key.TEMPERATURE, self.temperature.value())
        s.set_value(Key.TOP_P, self.top_p.value())
        s.set_value(Key.MAX_TOKENS, self.max_tokens.value())
        s.set_value(Key.THINKING, self.thinking.isChecked())
        s.set_value(Key.IMAGE_BUDGET, self.image_budget.currentData())
        s.set_value(Key.KV_BITS, self.kv_precision.currentData())
        s.set_value(Key.USE_DRAFTER, self.drafter.isChecked())
        self.voice.save(s)
        s.sync()
        self.model_changed = old != (model, self.drafter_path.text().strip(), self.drafter.isChecked())
        super().accept()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model_path.text())
        if folder:
            self.model_path.setText(folder)
