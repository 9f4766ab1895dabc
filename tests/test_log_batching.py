"""The log handler writes lines in bunches, never loses one, and never holds a warning."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import threading

from rosetta_node.logs import BatchingHandler, JsonFormatter


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _logger(stream: CountingStream) -> tuple[logging.Logger, BatchingHandler]:
    handler = BatchingHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test-batching-{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def test_info_lines_in_the_loop_go_out_together_and_soon() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def main() -> None:
        for i in range(50):
            logger.info("line %d", i)
        assert stream.getvalue() == ""  # held: no write per line
        await asyncio.sleep(BatchingHandler.FLUSH_AFTER * 4)
        lines = stream.getvalue().splitlines()
        assert [json.loads(line)["msg"] for line in lines] == [f"line {i}" for i in range(50)]
        assert stream.writes == 1

    asyncio.run(main())


def test_warnings_flush_at_once_with_what_came_before() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def main() -> None:
        logger.info("first")
        logger.warning("second")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(line["level"], line["msg"]) for line in lines] == [
            ("info", "first"),
            ("warning", "second"),
        ]

    asyncio.run(main())


def test_outside_the_loop_and_from_threads_lines_are_written_at_once() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)
    logger.info("no loop")
    assert "no loop" in stream.getvalue()

    async def main() -> None:
        thread = threading.Thread(target=logger.info, args=("from a thread",))
        thread.start()
        thread.join()
        assert "from a thread" in stream.getvalue()

    asyncio.run(main())


def test_a_full_buffer_is_written_without_waiting() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def main() -> None:
        for i in range(BatchingHandler.MAX_LINES):
            logger.info("line %d", i)
        assert len(stream.getvalue().splitlines()) == BatchingHandler.MAX_LINES

    asyncio.run(main())


def test_a_flush_due_on_a_closed_loop_does_not_strand_later_lines() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def log_and_leave() -> None:
        logger.info("from the first loop")  # its flush is due on a loop about to close

    asyncio.run(log_and_leave())

    async def second() -> None:
        logger.info("from the second loop")
        await asyncio.sleep(BatchingHandler.FLUSH_AFTER * 4)

    asyncio.run(second())
    assert stream.getvalue().count("loop") == 2


def test_lines_held_at_exit_are_written() -> None:
    script = (
        "import asyncio, logging, sys\n"
        "from rosetta_node.logs import setup_logging\n"
        "setup_logging('info', json_lines=True)\n"
        "async def main():\n"
        "    for i in range(3): logging.getLogger('x').info('held %d', i)\n"
        "    sys.exit(0)\n"  # before the flush is due
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert [json.loads(line)["msg"] for line in done.stderr.splitlines()] == [
        "held 0",
        "held 1",
        "held 2",
    ]
