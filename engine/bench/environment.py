"""What the numbers were measured on: device, dtype, package versions, cores and load average."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

PACKAGES = ("tandem", "mlx", "mlx-cpu", "mlx-metal", "mlx-lm", "mlx-vlm", "transformers", "numpy")


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the speed (None when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, object]:
    """The device MLX runs on, the machine's core count, memory and platform."""
    import mlx.core as mx

    info: dict[str, object] = {
        "device": str(mx.default_device()),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_executable": sys.executable,
    }
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gb"] = None
    try:
        info["device_info"] = {
            k: v for k, v in mx.device_info().items() if isinstance(v, (int, float, str))
        }
    except (AttributeError, RuntimeError):  # device_info is not on every backend
        info["device_info"] = None
    return info
