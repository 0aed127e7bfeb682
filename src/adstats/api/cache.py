"""Answers kept for the data version they were computed on.

Dashboards ask the same questions again and again; between two writes the
answer cannot change, so it is computed once. The key holds the store's data
version, read before computing: a write committed meanwhile moves the version
on, so no later request is ever answered from before it.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable

from starlette.responses import Response

MAX_ENTRIES = 2048
_Kept = tuple[bytes, str | None, dict[str, str]]
MAX_ANSWER_BYTES = 1 << 20


class AnswerCache:
    def __init__(self, entries: int = MAX_ENTRIES) -> None:
        self._entries = entries
        self._lock = threading.Lock()
        self._answers: OrderedDict[Hashable, _Kept] = OrderedDict()

    def get(self, key: Hashable) -> Response | None:
        with self._lock:
            kept = self._answers.get(key)
            if kept is None:
                return None
            self._answers.move_to_end(key)
        body, media_type, headers = kept
        return Response(body, media_type=media_type, headers=headers)

    def put(self, key: Hashable, answer: Response) -> None:
        """Keeps small, complete answers only; a streamed one is not kept."""
        body = getattr(answer, "body", None)
        if not isinstance(body, bytes) or len(body) > MAX_ANSWER_BYTES:
            return
        headers = {
            name: value
            for name, value in answer.headers.items()
            if name.lower() not in ("content-length", "content-type")
        }
        with self._lock:
            self._answers[key] = (body, answer.media_type, headers)
            self._answers.move_to_end(key)
            while len(self._answers) > self._entries:
                self._answers.popitem(last=False)
