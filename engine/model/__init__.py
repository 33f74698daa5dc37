"""The Gemma 4 unified model in MLX: config, text decoder, vision embedder, audio projector."""

from .config import AudioConfig, ConfigError, ModelConfig, TextConfig, VisionConfig
from .unified import Model

__all__ = ["AudioConfig", "ConfigError", "Model", "ModelConfig", "TextConfig", "VisionConfig"]
