"""The byte stream pyarrow's streaming CSV reader pulls from: UTF-8, throttled to the consumer.

``pyarrow.csv.open_csv`` reads ahead up to 32 blocks in a background thread (Arrow's
``MakeBackgroundGenerator`` default, not configurable: ARROW-12090), so with a 4 MiB block it would hold
128 MiB of a large file. Each ``read`` here waits for a permit that the consumer returns once it has taken a
batch, which bounds the read-ahead to ``ahead`` blocks. Non-UTF-8 text is transcoded here as a stream, so
that pyarrow only ever sees UTF-8."""

from __future__ import annotations

import codecs
import threading
import time
from pathlib import Path
from typing import Any

# A block that yields no batch (only blank lines) does not return its permit; after this long a read
# proceeds anyway, so the reader can never stall, only read ahead one block more.
_PERMIT_TIMEOUT = 5.0


class ThrottledSource:
    def __init__(self, path: Path, encoding: str, ahead: int) -> None:
        self._file = path.open("rb")
        utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        self._decoder: Any = None if utf8 else codecs.getincrementaldecoder(encoding)()
        self._pending = b""
        self._eof = False
        self._permits = threading.Semaphore(ahead)
        self._stopped = False
        self._in_read = 0
        self._lock = threading.Lock()
        self.decode_error: UnicodeDecodeError | None = None
        self.decode_offset = 0  # byte offset in the file of the first undecodable byte
        self._raw_offset = 0
        self.closed = False

    # -- the file protocol pyarrow.PythonFile uses --------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            self._in_read += 1
        try:
            if not self._stopped:
                self._permits.acquire(timeout=_PERMIT_TIMEOUT)
            if self._stopped:
                return b""
            return self._read(size)
        finally:
            with self._lock:
                self._in_read -= 1

    def close(self) -> None:
        self.closed = True

    # -- for the consumer ---------------------------------------------------------------------------
    def consumed(self) -> None:
        """One batch was taken: one more block may be read."""
        self._permits.release()

    def stop(self) -> None:
        """End the stream (reads return EOF) and wait until no background read is in progress, so that no
        pyarrow thread is left inside Python code when the caller goes on (or the interpreter exits)."""
        self._stopped = True
        for _ in range(64):
            self._permits.release()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_read:
                    break
            time.sleep(0.001)
        time.sleep(0.005)  # let the reading thread leave the interpreter after its last return
        self._file.close()

    def _read(self, size: int) -> bytes:
        if self._decoder is None:
            return self._file.read(size)
        want = size if size > 0 else 1 << 20
        while len(self._pending) < want and not self._eof:
            raw = self._file.read(want)
            try:
                text = self._decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                self.decode_error = e
                self.decode_offset = self._raw_offset + e.start
                self._stopped = True
                return b""
            self._raw_offset += len(raw)
            self._eof = not raw
            self._pending += text.encode("utf-8")
        out, self._pending = self._pending[:want], self._pending[want:]
        return out
