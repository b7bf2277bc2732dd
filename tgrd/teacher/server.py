"""A local OpenAI-compatible teacher: chat completions, files and batches, with injected faults.

    tgrd teacher serve --host 127.0.0.1 --port 8000 teacher.local.fault_rate=0.3
    python -m tgrd.teacher.server --port 0 --port-file /tmp/port --settings-json '{"noise": 0.1}'

    with LocalTeacher(LocalTeacherConfig(latency_ms=5)) as srv:   # tests and the demo
        url = srv.base_url                                          # http://127.0.0.1:PORT/v1
        srv.stats()["success_by_instance"]

Verdicts come from :class:`tgrd.teacher.judge.LocalJudge` on the instance embedded in the prompt.
Faults (429 with Retry-After, 500, hangs past the client timeout, truncated and malformed
bodies) and server-side RPM/TPM limits make it behave like a busy provider. ``GET /stats``
reports requests, faults and the successful completions per instance (the property tests
check). Requests' Authorization headers are checked when a key is required and never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tgrd.records import content_hash
from tgrd.teacher.judge import (
    LocalJudge,
    count_tokens,
    load_answer_key,
    load_truth,
    run_hidden_tests,
)
from tgrd.teacher.rubric import extract_instance
from tgrd.teacher.settings import LocalTeacherConfig


class _Bucket:
    """Non-blocking token bucket: ``take`` answers how long to wait (0 = admitted)."""

    def __init__(self, per_min: float, burst_s: float = 2.0):
        self.rate = per_min / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level, self.updated = self.capacity, time.monotonic()

    def take(self, amount: float) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        amount = min(amount, self.capacity)
        if self.level >= amount:
            self.level -= amount
            return 0.0
        return (amount - self.level) / self.rate

    def refund(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + max(0.0, amount))


class TeacherServer:
    def __init__(self, cfg: LocalTeacherConfig):
        self.cfg = cfg
        truth = load_truth(cfg.truth) if cfg.truth else {}
        key = load_answer_key(cfg.answer_key) if cfg.answer_key else None
        self.judge = LocalJudge(
            truth, cfg.noise, cfg.long_answer_bias, cfg.long_answer_words, cfg.seed, key
        )
        self.tests_passed: dict[str, bool] = {}  # program hash → result (one run per program)
        self._executor: Any = None
        self.rng = random.Random(cfg.seed)
        self.kinds = [k for k, w in cfg.fault_weights.items() if w > 0]
        self.weights = [cfg.fault_weights[k] for k in self.kinds]
        self.rpm = _Bucket(cfg.rpm) if cfg.rpm else None
        self.tpm = _Bucket(cfg.tpm) if cfg.tpm else None
        self.key = os.environ.get(cfg.require_key_env) if cfg.require_key_env else None
        self.counts: Counter[str] = Counter()
        self.success_by_instance: Counter[str] = Counter()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.started = time.monotonic()

    # ---- judging -------------------------------------------------------------------------
    async def check_code(self, body: dict[str, Any]) -> bool | None:
        """Run the instance's hidden tests when the judge needs them (in a worker process:
        the sandbox forks with ``preexec_fn``, which must not happen in a threaded parent)."""
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [])
        instance = extract_instance(prompt)
        program = self.judge.program_to_run(instance) if instance else None
        if program is None:
            return None
        digest = content_hash([{"role": "program", "content": program}])
        if digest not in self.tests_passed:
            if self._executor is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                ctx = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(1, mp_context=ctx)
            loop = asyncio.get_running_loop()
            passed = await loop.run_in_executor(self._executor, run_hidden_tests, program)
            self.tests_passed[digest] = passed
            self.counts["programs_run"] += 1
        return self.tests_passed[digest]

    def complete(
        self, body: dict[str, Any], tests_passed: bool | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """A chat.completion object for a request body, and the instance hash it judged."""
        messages = body.get("messages") or []
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        instance = extract_instance(prompt)
        classes = _classes(body, prompt)
        ihash = content_hash(instance) if instance is not None else None
        if self.cfg.garbage_labels:
            content = "Hmm, hard to say. It could go either way."
        elif instance is None:
            content = json.dumps({"label": None, "rationale": "no <instance> found in the prompt"})
        else:
            label, why = self.judge.verdict(instance, classes, tests_passed, _dataset_task(prompt))
            structured = (
                self.cfg.structured
                and (body.get("response_format") or {}).get("type") == "json_schema"
            )
            if structured:
                content = json.dumps({"label": label, "rationale": why})
            else:
                content = f"Having read the conversation, {why}.\nLabel: {label}"
        completion_tokens = count_tokens(content)
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local-teacher"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content, "refusal": None},
                },
            ],  # fmt: skip
            "usage": {
                "prompt_tokens": count_tokens(prompt) + 4 * len(messages),
                "completion_tokens": completion_tokens,
                "total_tokens": count_tokens(prompt) + 4 * len(messages) + completion_tokens,
            },
        }
        return reply, ihash

    # ---- HTTP handlers -------------------------------------------------------------------
    def _authorized(self, request: Any) -> bool:
        return self.key is None or request.headers.get("Authorization") == f"Bearer {self.key}"

    async def chat(self, request: Any) -> Any:
        from aiohttp import web

        self.counts["requests"] += 1
        if not self._authorized(request):
            self.counts["unauthorized"] += 1
            return _error(401, "invalid api key", "invalid_request_error")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON", "invalid_request_error")
        if self.cfg.reject_response_format and body.get("response_format"):
            self.counts["rejected_response_format"] += 1
            return _error(
                400, "response_format is not supported by this server", "invalid_request_error"
            )
        wait = self._limit_wait(body)
        if wait > 0:
            self.counts["limited"] += 1
            headers = {
                "retry-after-ms": str(int(wait * 1000) + 1),
                "retry-after": str(int(wait) + 1),
            }
            return _error(429, "rate limit reached", "rate_limit_exceeded", headers)
        if self.cfg.latency_ms:
            await asyncio.sleep(self.cfg.latency_ms / 1000.0)
        fault = self._draw_fault()
        if fault is not None:
            self.counts[f"fault:{fault}"] += 1
            return await self._fault(fault, body)
        reply, ihash = self.complete(body, await self.check_code(body))
        if self.tpm is not None:  # admission charged max_tokens; count what was generated
            self.tpm.refund(int(body.get("max_tokens") or 64) - reply["usage"]["completion_tokens"])
        self.counts["completions"] += 1
        if ihash is not None:
            self.success_by_instance[ihash] += 1
        return web.json_response(reply)

    def _limit_wait(self, body: dict[str, Any]) -> float:
        wait = self.rpm.take(1) if self.rpm else 0.0
        if self.tpm and wait == 0:
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [])
            wait = self.tpm.take(count_tokens(prompt) + int(body.get("max_tokens") or 64))
        return wait

    def _draw_fault(self) -> str | None:
        if self.cfg.fault_rate <= 0 or not self.kinds or self.rng.random() >= self.cfg.fault_rate:
            return None
        return self.rng.choices(self.kinds, self.weights)[0]

    async def _fault(self, fault: str, body: dict[str, Any]) -> Any:
        from aiohttp import web

        if fault == "429":
            return _error(
                429,
                "slow down",
                "rate_limit_exceeded",
                {"retry-after-ms": "50", "retry-after": "1"},
            )
        if fault == "500":
            return _error(500, "internal error", "server_error")
        if fault == "hang":  # past the client's timeout; the completion is never delivered
            await asyncio.sleep(self.cfg.hang_s)
            return _error(504, "gateway timeout", "server_error")
        if fault == "truncated":  # a valid reply cut in half (never counted as a success)
            text = json.dumps(self.complete(body)[0])
            return web.Response(text=text[: len(text) // 2], content_type="application/json")
        return web.Response(text="<html>upstream error</html>{", content_type="application/json")

    async def stats(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({
            "counts": dict(self.counts),
            "success_by_instance": dict(self.success_by_instance),
            "uptime_s": time.monotonic() - self.started,
        })  # fmt: skip

    # ---- files and batches (enough of the API for the official client) ------------------
    async def create_file(self, request: Any) -> Any:
        from aiohttp import web

        if not self._authorized(request):
            return _error(401, "invalid api key", "invalid_request_error")
        form = await request.post()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "file"):
            return _error(400, "missing file", "invalid_request_error")
        data = upload.file.read()
        return web.json_response(
            self._store_file(
                data, upload.filename or "upload.jsonl", str(form.get("purpose", "batch"))
            )
        )

    def _store_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        fid = f"file-{uuid.uuid4().hex[:24]}"
        obj = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed"}  # fmt: skip
        self.files[fid] = {"obj": obj, "data": data}
        return obj

    async def get_file(self, request: Any) -> Any:
        from aiohttp import web

        entry = self.files.get(request.match_info["fid"])
        if entry is None:
            return _error(404, "no such file", "invalid_request_error")
        if request.path.endswith("/content"):
            return web.Response(body=entry["data"], content_type="application/octet-stream")
        return web.json_response(entry["obj"])

    async def create_batch(self, request: Any) -> Any:
        from aiohttp import web

        if not self._authorized(request):
            return _error(401, "invalid api key", "invalid_request_error")
        body = await request.json()
        if body.get("input_file_id") not in self.files:
            return _error(400, "unknown input_file_id", "invalid_request_error")
        bid = f"batch_{uuid.uuid4().hex[:24]}"
        batch = {
            "id": bid, "object": "batch", "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "created_at": int(time.time()), "output_file_id": None,
            "error_file_id": None, "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }  # fmt: skip
        self.batches[bid] = batch
        asyncio.get_running_loop().create_task(self._run_batch(bid))
        return web.json_response(batch)

    async def _run_batch(self, bid: str) -> None:
        batch = self.batches[bid]
        batch["status"] = "in_progress"
        await asyncio.sleep(self.cfg.batch_delay_s)
        out, failed = [], 0
        lines = self.files[batch["input_file_id"]]["data"].decode("utf-8").splitlines()
        for line in filter(str.strip, lines):
            req = json.loads(line)
            body = req.get("body") or {}
            reply, ihash = self.complete(body, await self.check_code(body))
            if ihash is not None:
                self.success_by_instance[ihash] += 1
            self.counts["batch_completions"] += 1
            resp = {"status_code": 200, "request_id": uuid.uuid4().hex, "body": reply}
            out.append({"id": f"batch_req_{uuid.uuid4().hex[:16]}", "custom_id": req.get("custom_id"),
                        "response": resp, "error": None})  # fmt: skip
        data = "".join(json.dumps(o) + "\n" for o in out).encode()
        batch["output_file_id"] = self._store_file(data, f"{bid}_output.jsonl", "batch_output")[
            "id"
        ]
        batch["request_counts"] = {
            "total": len(out) + failed,
            "completed": len(out),
            "failed": failed,
        }
        batch["status"] = "completed"
        batch["completed_at"] = int(time.time())

    async def get_batch(self, request: Any) -> Any:
        from aiohttp import web

        batch = self.batches.get(request.match_info["bid"])
        if batch is None:
            return _error(404, "no such batch", "invalid_request_error")
        return web.json_response(batch)

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application(client_max_size=256 * 1024**2)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/files", self.create_file)
        app.router.add_get("/v1/files/{fid}", self.get_file)
        app.router.add_get("/v1/files/{fid}/content", self.get_file)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches/{bid}", self.get_batch)
        app.router.add_get("/stats", self.stats)
        return app


def _dataset_task(prompt: str) -> str | None:
    """The dataset's task from the rubric prompt's task description (configs/rubrics)."""
    import re

    match = re.search(r"Task of this dataset: (.*)", prompt)
    if match is None:
        return None
    if "Program synthesis" in match.group(1):
        return "code"
    if "financial" in match.group(1):
        return "finqa"
    return None


def _classes(body: dict[str, Any], prompt: str) -> tuple[str, ...]:
    """Rubric classes from the JSON schema enum, else from the ``- NAME:`` lines of the prompt."""
    import re

    try:
        enum = body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"]
        return tuple(str(c) for c in enum)
    except (KeyError, TypeError):
        found = re.findall(r"^- ([A-Z_]+):", prompt, re.M)
        return tuple(found) or ("PASS", "INCORRECT", "TASK_MISMATCH")


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Any:
    from aiohttp import web

    body = {"error": {"message": message, "type": code, "code": code, "param": None}}
    return web.json_response(body, status=status, headers=headers)


def serve(cfg: LocalTeacherConfig, port_file: str | None = None) -> None:
    """Run the server until interrupted; writes the bound port to ``port_file`` when given."""
    from aiohttp import web

    async def main() -> None:
        server = TeacherServer(cfg)
        runner = web.AppRunner(server.app(), access_log=None)  # no request (header) logging
        await runner.setup()
        site = web.TCPSite(runner, cfg.host, cfg.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"local teacher listening on http://{cfg.host}:{port}/v1", flush=True)
        if port_file:
            tmp = Path(port_file + ".tmp")
            tmp.write_text(str(port))
            tmp.rename(port_file)  # atomic: readers never see a partial port
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
        if server._executor is not None:  # the code-check worker must not outlive us
            server._executor.shutdown(wait=False, cancel_futures=True)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class LocalTeacher:
    """Start the server in a subprocess on a free port; a context manager for tests and the demo."""

    def __init__(self, cfg: LocalTeacherConfig | None = None, startup_timeout_s: float = 30.0):
        self.cfg = cfg or LocalTeacherConfig()
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.cfg.host}:{self.port}/v1"

    def start(self) -> LocalTeacher:
        tmpdir = tempfile.mkdtemp(prefix="tgrd-teacher-")
        port_file = os.path.join(tmpdir, "port")
        cmd = [sys.executable, "-m", "tgrd.teacher.server", "--port-file", port_file,
               "--settings-json", self.cfg.model_dump_json()]  # fmt: skip
        # stderr to a file, not a pipe: a full pipe would block the server.
        self._log = open(os.path.join(tmpdir, "server.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + self.startup_timeout_s
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                err = Path(tmpdir, "server.log").read_text(errors="replace")
                raise RuntimeError(
                    f"local teacher exited with {self.proc.returncode}: {err[-2000:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("local teacher did not start in time")
            time.sleep(0.05)
        self.port = int(Path(port_file).read_text())
        return self

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(
            f"http://{self.cfg.host}:{self.port}/stats", timeout=10
        ) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalTeacher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="local OpenAI-compatible teacher")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--port-file", default=None)
    parser.add_argument("--settings-json", default="{}", help="LocalTeacherConfig fields as JSON")
    args = parser.parse_args(argv)
    cfg = LocalTeacherConfig.model_validate_json(args.settings_json)
    if args.host is not None:
        cfg.host = args.host
    if args.port is not None:
        cfg.port = args.port
    serve(cfg, args.port_file)


if __name__ == "__main__":
    main()
