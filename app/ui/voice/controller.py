"""Voice input in the window: the microphone button, push-to-talk, hands-free turns and barge-in.

The controller owns a `Recorder` (app.audio) while the microphone is on. A QTimer on the GUI
thread drains it every `DRAIN_MS` (a queue read, no model work); every `APPEND_SAMPLES` of the turn
go to `VoiceTurn.append`, which sends them to the engine thread as `AppendAudio`: the engine
prefills the audio while the person is still speaking (a forward pass costs about the same for one
frame as for five, so batching keeps the engine well ahead of the voice; what is left at the end
of the turn is at most 200 ms). Nothing here waits on the engine.

Ways to talk:
- Click the microphone to start, click again to send. Hold it (longer than `HOLD_S`) to talk and
  let go to send (push-to-talk). Hold Space in an empty message field: push-to-talk too.
  Ctrl+Shift+Space (Cmd+Shift+Space on a Mac) starts and stops recording from anywhere in the window.
- Hands-free (setting): the microphone listens; a `TurnSegmenter` opens a turn when speech starts
  (with its pre-roll) and sends it after the configured silence. Click again to stop listening.
- Barge-in: starting to talk while the model answers stops the answer (`Cancel`) and the spoken
  answer at once. Pressing the microphone always does; in hands-free mode, detected speech does when
  the barge-in setting is on (otherwise speech during an answer is ignored). The new turn's audio is
  held until the stopped answer is stored, then streamed.

Problems (no PortAudio, no audio server, no input device, permission denied) are said in the
composer and in the button's tooltip; nothing is raised. When the device disappears mid-recording,
what was recorded is kept and sent as the turn. Answers to voice turns are read aloud by `Speaker`
when the setting is on, sentence by sentence as they stream. While it speaks, the echo canceller
(app.audio.echo) takes its voice out of the microphone, so it neither barges in nor reaches the
model; where no echo canceller can run, `BargeInGate` asks for a louder, longer voice instead.
Each user message's audio attachment is shown as a playable `VoiceClip`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut

from app.audio.barge_in import BargeInGate
from app.audio.capture import SAMPLE_RATE, Recorder
from app.audio.devices import pick_input_device, refresh_devices
from app.audio.echo import EchoCanceller, EchoUnavailable
from app.audio.errors import PERMISSION_HINT, MicrophoneError
from app.audio.tts import Speaker
from app.audio.turns import TurnAudio, TurnEnded, TurnSegmenter, TurnStarted
from app.audio.vad import SpeechScorer, VoiceActivityDetector, default_scorer
from app.chat import ChatCore, VoiceTurn
from app.ui.chat.composer import Composer
from app.ui.chat.message_widget import MessageWidget
from app.ui.chat.view import ChatView
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from app.ui.voice.clip import VoiceClip
from app.ui.voice.level_meter import LevelMeter
from engine import protocol as ev

DRAIN_MS = 40  # one model frame (640 samples) per tick: the meter and the VAD follow the voice
APPEND_SAMPLES = 3_200  # 5 frames (200 ms) per AppendAudio: one forward pass each, not five
# Hands-free: after this much silence inside a turn the audio is held back and the engine closes the turn
# and begins the answer ahead (PrepareVoiceAnswer), so it is there when the turn ends; if the person goes
# on, the held audio is sent and the engine takes the begun answer back.
PAUSE_S = 0.3
HOLD_S = 0.4  # a press longer than this is push-to-talk; a shorter one is a click
# X11 auto-repeat sends release/press pairs; where Qt cannot tell them from a real release, the
# press follows at once: a release waits this long for one before it stops the recording.
REPEAT_WINDOW_MS = 60

MIN_TURN_S = 0.2  # shorter than this is a slip of the finger, not a message
TOGGLE_KEY = "Ctrl+Shift+Space"  # Qt writes Cmd as Ctrl on macOS


def ready_tip() -> str:
    key = QKeySequence(TOGGLE_KEY).toString(QKeySequence.SequenceFormat.NativeText)
    return (
        "Talk to Tandem: click to start and stop, or hold to talk "
        f"(also: hold Space in an empty message, or {key})"
    )


class RecordingMode(Enum):
    TOGGLE = "toggle"  # click to start, click to send; or hold the button and let go to send
    PUSH = "push"  # hold Space in an empty message field, let go to send
    HANDS_FREE = "hands_free"  # the microphone listens; speech opens a turn, silence sends it


class VoiceState(Enum):
    OFF = "off"
    LISTENING = "listening"  # hands-free, between turns
    RECORDING = "recording"  # a turn is open: its audio streams to the engine
    WAITING = "waiting"  # barge-in stopped an answer; the new turn is held until it is stored


STATE_LABELS = {  # under the level meter; the button's accessible description drops the "…"
    VoiceState.LISTENING: "Listening",
    VoiceState.RECORDING: "Recording",
    VoiceState.WAITING: "Stopping the answer…",
}


class VoiceController(QObject):
    recording_started = Signal(object)  # RecordingMode
    recording_stopped = Signal()
    state_changed = Signal(object)  # VoiceState
    barged_in = Signal(str)  # session_id whose answer was stopped by the person talking
    failed = Signal(str)  # a message for the person

    def __init__(
        self,
        voice: VoiceTurn,
        chat: ChatCore,
        bridge: EngineBridge,
        composer: Composer,
        chat_view: ChatView,
        settings: Settings,
        parent: QObject | None = None,
        *,
        sounddevice: Any | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        super().__init__(parent)
        self.voice, self.chat, self.composer = voice, chat, composer
        self.settings = settings
        self.sounddevice = sounddevice  # a stand-in for the sounddevice module (tests)
        # hands-free speech detection: the learned scorer, or the energy one where it cannot load
        self.make_scorer: Callable[[], SpeechScorer] = default_scorer
        self.make_echo_canceller: Callable[[], EchoCanceller] = EchoCanceller
        self.echo: EchoCanceller | None = None  # while recording, where it can run
        self.speaker = speaker if speaker is not None else Speaker()
        self.speaker.on_error = self.failed.emit  # from the speaker's thread: queued to this one
        self.recorder: Recorder | None = None
        self.mode: RecordingMode | None = None  # None while the microphone is off
        self.state = VoiceState.OFF
        self.unavailable = ""  # why the microphone cannot record, after a failed check
        self.segmenter: BargeInGate | None = None
        self._held: list[np.ndarray] | None = None  # a turn's audio while a stopped answer ends
        self._held_ended = False
        self._ignoring = False  # hands-free, no barge-in: the turn heard during an answer
        self._turn_samples = 0
        self._unsent: list[np.ndarray] = []  # turn audio not yet sent to the engine
        self._paused: list[np.ndarray] = []  # hands-free: silent turn audio held back after a pause
        self._pressed_at = 0.0
        self._press_started = False
        self._space_held = False
        self._warned_silence = False
        self._voice_answers: set[int] = set()

        self.meter = LevelMeter()
        self.meter.setVisible(False)
        row = composer.button_row
        row.insertWidget(row.indexOf(composer.mic_button), self.meter)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._tick)

        button = composer.mic_button
        button.pressed.connect(self._on_press)
        button.released.connect(self._on_release)
        button.clicked.connect(self._sync_button)
        self.shortcut = QShortcut(QKeySequence(TOGGLE_KEY), composer)
        self.shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.shortcut.setAutoRepeat(False)  # macOS and X11 flag repeats: one held key, one toggle
        self.shortcut.activated.connect(self._on_shortcut)
        self._shortcut_held = False  # until its key is really let go, the shortcut acts once
        self._release_timer = QTimer(self)  # a Space release not (yet) followed by a repeat press
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(REPEAT_WINDOW_MS)
        self._release_timer.timeout.connect(self._space_released)
        # Space goes to whichever widget has the focus: the filter sees the message field's keys
        # (push-to-talk) and the shortcut's key wherever it goes
        QCoreApplication.instance().installEventFilter(self)
        bridge.text_received.connect(self._on_answer_text)
        bridge.turn_finished.connect(self._on_answer_finished)
        bridge.error_raised.connect(self._on_answer_finished)
        chat_view.message_shown.connect(self._show_clips)
        self.failed.connect(composer.show_error)
        composer.set_voice_available(True, ready_tip())
        QTimer.singleShot(0, self, self.check_microphone)

    # ------------------------------------------------------------ public

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def check_microphone(self, rescan: bool = False) -> bool:
        """Look for the configured input device; the button's tooltip says what was found."""
        try:
            if rescan:
                refresh_devices(self.sounddevice)
            device = pick_input_device(self._device_choice(), self.sounddevice)
        except MicrophoneError as exc:
            self.unavailable = exc.message
            self.composer.set_voice_available(True, "Cannot record: " + exc.message)
            return False
        self.unavailable = ""
        self.composer.set_voice_available(True, f"{ready_tip()}\nMicrophone: {device.name}")
        return True

    def toggle(self) -> None:
        """Start recording (hands-free when set), or stop and send."""
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording(
                RecordingMode.HANDS_FREE
                if self.settings.value(Key.VOICE_HANDS_FREE)
                else RecordingMode.TOGGLE
            )

    def start_recording(self, mode: RecordingMode = RecordingMode.TOGGLE) -> bool:
        """Open the microphone. In TOGGLE and PUSH mode a voice turn opens at once."""
        if self.recording:
            return True
        if self.unavailable and not self.check_microphone(rescan=True):
            self.failed.emit(self.unavailable)
            self._sync_button()
            return False
        recorder = Recorder(self._device_choice(), sounddevice=self.sounddevice)
        try:
            recorder.start()
        except MicrophoneError as exc:
            self.unavailable = exc.message
            self.composer.set_voice_available(True, "Cannot record: " + exc.message)
            self.failed.emit(exc.message)
            self._sync_button()
            return False
        self.recorder, self.mode = recorder, mode
        self.echo = self._open_echo_canceller()
        self._warned_silence = False
        self.composer.error_label.setVisible(False)
        self.meter.reset()
        self.meter.setVisible(True)
        if mode is RecordingMode.HANDS_FREE:
            vad = VoiceActivityDetector(
                silence_s=max(0.1, self.settings.value(Key.VOICE_SILENCE_S)),
                scorer=self.make_scorer(),
            )
            self.segmenter = BargeInGate(TurnSegmenter(vad))
            self._set_state(VoiceState.LISTENING)
        elif not self._open_turn():
            self.stop_recording(send=False)  # the reason is already in the composer
            return False
        self._timer.start()
        self._sync_button()
        self.recording_started.emit(mode)
        return True

    def stop_recording(self, send: bool = True) -> None:
        """Close the microphone; the open turn is sent (or dropped when `send` is False)."""
        recorder = self.recorder
        if recorder is None:
            return
        self._timer.stop()
        self._route(self._without_echo(recorder.drain()))  # everything heard until now
        if self.echo is not None:
            self._route(self.echo.flush())
        self._close(send)  # the turn goes to the engine first,
        recorder.stop()  # then the stream closes (some ms); what came after the release is not the turn's

    def shutdown(self) -> None:
        """The window closes: what is being said is stored and sent, the voice stops."""
        self.stop_recording(send=True)
        self.speaker.close()

    # ------------------------------------------------------------ turns

    def _open_turn(self) -> bool:
        """Start a voice turn; an answer that is still running is stopped first (barge-in)."""
        self.speaker.stop()
        self._turn_samples = 0
        self._unsent = []
        session = self.chat.current_id
        if self.chat.answering:
            self.chat.stop()
            self._held, self._held_ended = [], False
            self._set_state(VoiceState.WAITING)
            self.barged_in.emit(session)
            return True
        if not self.voice.start():
            return False
        self._set_state(VoiceState.RECORDING)
        return True

    def _open_echo_canceller(self) -> EchoCanceller | None:
        try:
            return self.make_echo_canceller()
        except EchoUnavailable:
            return None  # barge-in then asks for a louder, longer voice (BargeInGate)

    def _without_echo(self, samples: np.ndarray) -> np.ndarray:
        """The microphone with Tandem's own voice taken out (where echo cancellation runs)."""
        played = self.speaker.take_played()
        if self.echo is not None:
            samples = self.echo.process(samples, played)
        if self.segmenter is not None:
            self.segmenter.strict = self.echo is None and self.speaker.speaking
            self.segmenter.note_played(played)
        return samples

    def _route(self, samples: np.ndarray) -> None:
        if self.segmenter is None:
            self._feed(samples)
            return
        events = self.segmenter.feed(samples)
        for i, event in enumerate(events):
            if isinstance(event, TurnStarted):
                self._speech_started()
            elif isinstance(event, TurnAudio):
                after = events[i + 1] if i + 1 < len(events) else None
                # the part of a chunk that ends the turn: silence all through when the voice stopped before it
                silent = isinstance(after, TurnEnded) and after.end - after.speech_end >= event.samples.size
                self._feed(event.samples, silent_end=silent)
            elif isinstance(event, TurnEnded):
                self._speech_ended()

    def _speech_started(self) -> None:
        if (self.chat.answering or self.speaker.speaking) and not self.settings.value(Key.VOICE_BARGE_IN):
            self._ignoring = True  # most likely the spoken answer heard through the speakers
            return
        if not self._open_turn():
            self._ignoring = True

    def _speech_ended(self) -> None:
        if self._ignoring:
            self._ignoring = False
            return
        self._end_turn()
        if self.recording:
            self._set_state(VoiceState.LISTENING)

    def _feed(self, samples: np.ndarray, silent_end: bool = False) -> None:
        if samples.size == 0 or self._ignoring:
            return
        self._turn_samples += samples.size
        if self._held is not None:
            self._held.append(samples)
        elif self.voice.active:
            if self._in_pause(samples.size) or (silent_end and self._paused):
                if not self._paused:  # the pause begins: the engine closes the turn and begins the answer
                    self._send_audio()
                    silence = max(0.1, self.settings.value(Key.VOICE_SILENCE_S))
                    self.voice.prepare_answer(within_s=max(0.0, silence - PAUSE_S))
                self._paused.append(samples)
                return
            self._unsent += self._paused  # the person went on: the pause is part of the turn
            self._paused = []
            self._unsent.append(samples)
            if sum(chunk.size for chunk in self._unsent) >= APPEND_SAMPLES:
                self._send_audio()

    def _in_pause(self, chunk: int) -> bool:
        """Hands-free: a pause of `PAUSE_S` is heard and the whole chunk just judged lies inside it."""
        if self.segmenter is None:
            return False
        silence = self.segmenter.silence_samples
        return silence >= max(chunk, PAUSE_S * SAMPLE_RATE)

    def _send_audio(self) -> None:
        if self._unsent and self.voice.active:
            self.voice.append(np.concatenate(self._unsent))
        self._unsent = []

    def _end_turn(self, send: bool = True) -> None:
        self._paused = []  # silence after the voice: the turn ends where the pause began
        if self._held is not None:
            if send:
                self._held_ended = True  # sent once the stopped answer is stored
            else:
                self._held = None
            return
        if not self.voice.active:
            self._unsent = []
            return
        if not send or self._turn_samples < MIN_TURN_S * SAMPLE_RATE:
            self._unsent = []
            self.voice.cancel()
            if send:
                self.failed.emit(
                    "Nothing was recorded: hold the microphone button while you talk, "
                    "or click it once to start and once to send."
                )
            return
        session = self.voice.session_id
        self._send_audio()
        self.voice.finish("")
        pending = self.chat.pending.get(session or "")
        if pending is not None:
            self._voice_answers.add(pending.request_id)

    def _on_answer_text(self, event: ev.TextDelta) -> None:
        """Answers to voice turns are spoken sentence by sentence as they stream (the setting)."""
        if event.request_id not in self._voice_answers or event.channel != "answer":
            return
        if not self.settings.value(Key.VOICE_SPEAK_ANSWERS):
            return
        self.speaker.enabled = True
        self.speaker.add_text(event.text)

    def _on_answer_finished(self, event: ev.Event) -> None:
        if event.request_id in self._voice_answers:
            self._voice_answers.discard(event.request_id)
            if isinstance(event, ev.TurnFinished) and event.reason in ("stop", "length"):
                self.speaker.finish()  # the rest of the answer, then the speakers go
            else:
                self.speaker.stop()
        if self._held is None or self.chat.answering:
            return
        held, ended = self._held, self._held_ended
        self._held, self._held_ended = None, False
        if not self.voice.start():  # the reason is in the composer
            self._ignoring = not ended and self.segmenter is not None
            if self.recording and self.mode is not RecordingMode.HANDS_FREE:
                self.stop_recording(send=False)
            self._set_state(VoiceState.LISTENING if self.recording else VoiceState.OFF)
            return
        self._unsent = []
        if held:
            self.voice.append(np.concatenate(held))
        if ended:
            self._end_turn()
        listening = ended and self.mode is RecordingMode.HANDS_FREE
        if not self.recording:
            self._set_state(VoiceState.OFF)
        else:
            self._set_state(VoiceState.LISTENING if listening else VoiceState.RECORDING)

    # ------------------------------------------------------------ the drain timer

    def _tick(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        self._route(self._without_echo(recorder.drain()))
        level = recorder.level()
        self.meter.set_level(level.rms_dbfs, level.peak_dbfs)
        self.meter.set_elapsed(recorder.elapsed())
        self.composer.show_recording(recorder.elapsed())
        if recorder.error is not None:
            message = recorder.error.message
            self.stop_recording(send=True)  # what was recorded goes to the model
            self.failed.emit(message)
            self.check_microphone()
        elif sys.platform == "darwin" and not self._warned_silence and recorder.digital_silence():
            self._warned_silence = True  # macOS gives silence, not an error, without permission
            self.failed.emit(
                "The microphone delivers only silence: macOS may not allow Tandem to "
                f"use it. {PERMISSION_HINT}"
            )

    def _close(self, send: bool) -> None:
        self._timer.stop()
        self.recorder = None
        self.echo = None
        self._end_turn(send)
        self._ignoring = False
        self.segmenter = None
        self.mode = None
        self._space_held = False
        self._release_timer.stop()
        self.meter.setVisible(False)
        self._set_state(VoiceState.WAITING if self._held is not None else VoiceState.OFF)
        self._sync_button()
        self.recording_stopped.emit()

    # ------------------------------------------------------------ button and keys

    def _on_press(self) -> None:
        self._pressed_at = time.monotonic()
        self._press_started = not self.recording
        if self._press_started:
            self.toggle()

    def _on_release(self) -> None:
        held = time.monotonic() - self._pressed_at
        if self._press_started:
            if self.mode is RecordingMode.TOGGLE and held >= HOLD_S:
                self.stop_recording()  # push-to-talk: let go to send
        elif self.recording:
            self.stop_recording()
        self._sync_button()

    def _sync_button(self) -> None:
        button = self.composer.mic_button
        if button.isChecked() != self.recording:
            button.setChecked(self.recording)
        recorder = self.recorder
        self.composer.show_recording(recorder.elapsed() if recorder is not None else None)
        button.setAccessibleDescription(STATE_LABELS.get(self.state, "").rstrip("…"))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Hold Space in an empty message field to talk (push-to-talk); follow the shortcut's key."""
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() != Qt.Key.Key_Space:
            return False
        if self._shortcut_held:
            if kind == QEvent.Type.KeyRelease and not event.isAutoRepeat():
                self._release_timer.start()  # let go, unless a repeat press follows at once
            elif kind != QEvent.Type.KeyRelease:
                self._release_timer.stop()
            return False
        if watched is not self.composer.edit or kind == QEvent.Type.ShortcutOverride or (
            event.modifiers() != Qt.KeyboardModifier.NoModifier
        ):
            return False
        if kind == QEvent.Type.KeyPress:
            if self._space_held:
                self._release_timer.stop()  # the release just before was the key repeating
                return True
            if event.isAutoRepeat() or self.recording or self.composer.text:
                return False
            self._space_held = self.start_recording(RecordingMode.PUSH)
            return self._space_held
        if not self._space_held or event.isAutoRepeat():
            return self._space_held
        self._release_timer.start()  # stop unless a repeat press follows at once
        return True

    def _space_released(self) -> None:
        self._shortcut_held = False
        if self._space_held:
            self._space_held = False
            self.stop_recording()

    def _on_shortcut(self) -> None:
        if not self._shortcut_held:
            self._shortcut_held = True
            self.toggle()

    def _set_state(self, state: VoiceState) -> None:
        if state != self.state:
            self.state = state
            self.meter.set_state(STATE_LABELS.get(state, ""))
            self.state_changed.emit(state)

    def _device_choice(self) -> str | None:
        return self.settings.value(Key.VOICE_INPUT_DEVICE) or None

    # ------------------------------------------------------------ playable clips in the chat

    def _show_clips(self, widget: MessageWidget) -> None:
        """Put a playable clip in place of each audio attachment's plain chip."""
        if widget.role != "user":
            return
        row = widget.attachment_row
        for index, attachment in enumerate(getattr(widget, "attachments", ())):
            item = row.itemAt(1 + index)  # after the stretch that right-aligns the row
            if attachment.kind != "audio" or item is None or item.widget() is None:
                continue
            title = (
                "Voice message"
                if attachment.filename == "Voice message.wav"
                else attachment.filename
            )
            clip = VoiceClip(attachment.path, title, sounddevice=self.sounddevice)
            old = item.widget()
            row.replaceWidget(old, clip)
            old.deleteLater()
