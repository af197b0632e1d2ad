"""The gate's audit log: one JSON object per decision, appended, flushed line by line."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"time": round(time.time(), 6), **record}, ensure_ascii=False, default=repr)
        line = line.encode("utf-8", "backslashreplace").decode("utf-8")     # a lone surrogate stays visible
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()
