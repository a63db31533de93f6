"""Execution environments: one process per environment, pooled per function, as Lambda runs them.

An ``ExecutionEnvironment`` is a ``bootstrap`` process running one function's handler, one
invocation at a time. A function's ``EnvironmentPool`` hands out an idle (warm) one, or
starts a new one while the function is under its concurrency limit; past the limit, an
invocation waits for one to come free (AWS would throttle it instead).

>>> pool = EnvironmentPool(lambda: ExecutionEnvironment(variables, config, code_dir), limit=4)
>>> with pool.environment(wait=15) as environment:
...     answer = environment.invoke(event, request_id)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterator, Optional


INIT_SECONDS = 10  # Lambda's init phase (imports, module state) has its own 10 s, outside the function's Timeout


class EnvironmentGone(Exception):
    """The environment's process ended during an invocation (it exited, crashed or was killed)."""


class EnvironmentTimedOut(Exception):
    """The invocation ran past the function's timeout: the environment was ended, as Lambda ends it."""


class ExecutionEnvironment:
    def __init__(self, variables: dict[str, str], config: dict[str, Any], cwd: Path) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "samlocal.bootstrap", str(theirs.fileno())],
            env=variables, cwd=cwd, pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self.alive = True
        self.initialised = False  # the process says when its init (the handler's imports) is done
        threading.Thread(target=self._copy_logs, name=f"logs:{config['name']}", daemon=True).start()
        try:
            self._connection.send_bytes(json.dumps(config).encode())
        except OSError as error:  # it died before it could be configured (killed, out of memory)
            self.kill()
            raise EnvironmentGone(f"the environment's process exited while starting (status {self.process.returncode})") from error

    @property
    def pid(self) -> int:
        return self.process.pid

    def invoke(self, event: Any, request_id: str, timeout: Optional[float] = None) -> dict:
        """``{"result": …}`` or ``{"error": document}``; raises ``EnvironmentGone``, or ``EnvironmentTimedOut``
        when no answer came within ``timeout`` s (the process is killed: a thread could not be stopped)."""
        try:
            self._connection.send_bytes(json.dumps({"event": event, "request_id": request_id}, default=str).encode())
            if not self.initialised:  # a cold start: init has its own time, as in Lambda, before the Timeout counts
                if not self._connection.poll(INIT_SECONDS + (timeout or 0)):
                    self.kill()
                    raise EnvironmentTimedOut(f"Task timed out after {timeout or 0:.2f} seconds (init took over {INIT_SECONDS} s)")
                json.loads(self._connection.recv_bytes())  # {"init": "done"}
                self.initialised = True
            if timeout is not None and not self._connection.poll(timeout):
                self.kill()
                raise EnvironmentTimedOut(f"Task timed out after {timeout:.2f} seconds")
            answer = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError) as error:
            self.stop()
            raise EnvironmentGone(f"the environment's process exited (status {self.process.returncode})") from error
        if answer.get("fatal"):
            self.stop()
        return answer

    def stop(self, wait: bool = True) -> None:
        self.alive = False
        self._connection.close()  # the process sees the end of its input and exits
        if not wait:
            return
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # still in a handler
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """End the process now, whatever it is doing (SIGKILL), as Lambda ends a timed-out environment."""
        self.alive = False
        self.process.kill()
        self.process.wait()
        self._connection.close()

    def _copy_logs(self) -> None:
        # Line by line through this process's stdout as it is now: ``serve`` sets metrics lines
        # aside there, and the seeder points descriptor 1 at a file for a while.
        for line in self.process.stdout:
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()


class EnvironmentPool:
    """One function's environments: warm ones reused, at most ``limit`` at once."""

    def __init__(self, start: Callable[[], ExecutionEnvironment], limit: int) -> None:
        self.limit = limit
        self._start = start
        self._idle: list[ExecutionEnvironment] = []  # the last one freed is reused first, as Lambda tends to
        self._all: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._changed = threading.Condition()

    @property
    def size(self) -> int:
        return len(self._all)

    @contextmanager
    def environment(self, wait: float) -> Iterator[ExecutionEnvironment]:
        """An environment for one invocation; ``TimeoutError`` if none comes free within ``wait`` s."""
        environment = self._acquire(wait)
        try:
            yield environment
        finally:
            with self._changed:
                if environment.alive:
                    self._idle.append(environment)
                else:
                    self._all.discard(environment)
                self._changed.notify()

    def _acquire(self, wait: float) -> ExecutionEnvironment:
        with self._changed:
            if not self._changed.wait_for(lambda: self._idle or len(self._all) + self._starting < self.limit, wait):
                raise TimeoutError(f"all {self.limit} execution environments stayed busy for {wait:.0f} s")
            while self._idle:
                environment = self._idle.pop()
                if environment.process.poll() is None:
                    return environment
                self._all.discard(environment)  # it died while idle (killed, crashed): Lambda would not reuse it
                environment.stop()  # (its place is free now: a new one may start)
            self._starting += 1
        environment = None
        try:
            environment = self._start()  # outside the lock: a cold start does not hold up warm invocations
        finally:
            with self._changed:
                self._starting -= 1
                if environment is not None:
                    self._all.add(environment)
                self._changed.notify()
        return environment

    def stop(self) -> None:
        with self._changed:
            environments, self._all, self._idle = list(self._all), set(), []
        # Tell every process to end before waiting on any: one by one, a loaded machine's stop ran past 30 s.
        for environment in environments:
            environment.stop(wait=False)
        for environment in environments:
            environment.stop()
