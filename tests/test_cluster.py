"""Cluster deployment: every YAML under cluster/ is valid, and a real two-node Ray cluster on this
machine runs the smoke pipeline submitted through the Jobs API with a working directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
RAY_BIN = Path(sys.executable).parent / "ray"


def cluster_files() -> list[Path]:
    return sorted(CLUSTER.rglob("*.yaml"))


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path}: top level must be a mapping"
    return doc


def check_autoscaler(path: Path, doc: dict) -> None:
    for key in (
        "cluster_name",
        "max_workers",
        "provider",
        "available_node_types",
        "head_node_type",
        "head_start_ray_commands",
        "worker_start_ray_commands",
    ):
        assert key in doc, f"{path}: missing {key}"
    assert doc["provider"]["type"] in ("aws", "gcp", "azure", "kuberay", "local")
    types = doc["available_node_types"]
    assert doc["head_node_type"] in types, f"{path}: head_node_type not among node types"
    gpu_types = []
    for name, spec in types.items():
        for key in ("node_config", "resources", "max_workers"):
            assert key in spec, f"{path}: node type {name} lacks {key}"
        if spec["resources"].get("GPU"):
            gpu_types.append(spec)
            assert spec.get("min_workers", 0) == 0, f"{path}: GPU type {name} must scale from zero"
    assert {s["resources"]["GPU"] for s in gpu_types} >= {1, 8}, (
        f"{path}: needs 1-GPU and 8-GPU types"
    )
    assert any("--head" in c for c in doc["head_start_ray_commands"])


def pod_specs(spec: dict) -> list[dict]:
    groups = [spec["headGroupSpec"]] + list(spec.get("workerGroupSpecs", []))
    for g in groups:
        assert "rayStartParams" in g and g["template"]["spec"]["containers"]
    for g in spec.get("workerGroupSpecs", []):
        assert g["groupName"] and 0 <= g["minReplicas"] <= g["maxReplicas"]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


def check_kuberay(path: Path, doc: dict) -> None:
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] in ("RayCluster", "RayJob")
    if doc["kind"] == "RayCluster":
        containers = pod_specs(doc["spec"])
        assert doc["spec"].get("enableInTreeAutoscaling") is True
    else:
        spec = doc["spec"]
        assert spec["entrypoint"].startswith("python jobs/")
        job_file = spec["entrypoint"].split()[1]
        assert (ROOT / job_file).is_file(), f"{path}: entrypoint {job_file} does not exist"
        containers = pod_specs(spec["rayClusterSpec"])
    for c in containers:  # secrets only through secretKeyRef, never inline values
        for env in c.get("env", []):
            if "KEY" in env["name"] or "TOKEN" in env["name"]:
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], (
                    f"{path}: {env['name']}"
                )


@pytest.mark.parametrize("path", cluster_files(), ids=lambda p: str(p.relative_to(CLUSTER)))
def test_cluster_yaml_is_valid(path):
    text = path.read_text()
    assert text.splitlines()[0].startswith("#"), f"{path} must open with how to use it"
    assert "sk-" not in text.replace("sk-...", ""), f"{path}: looks like an API key"
    doc = load(path)
    if path.name == "runtime_env.yaml":
        allowed = {
            "working_dir",
            "py_modules",
            "pip",
            "uv",
            "conda",
            "env_vars",
            "excludes",
            "container",
            "image_uri",
            "config",
            "nsight",
            "py_executable",
        }
        assert set(doc) <= allowed, f"{path}: unknown runtime_env keys {set(doc) - allowed}"
        assert ".venv" in doc.get("excludes", []), "the virtualenv must never be uploaded"
        assert "OPENAI_API_KEY" not in doc.get("env_vars", {})
    elif "apiVersion" in doc:
        check_kuberay(path, doc)
    else:
        check_autoscaler(path, doc)


def test_cluster_has_every_kind_of_file():
    names = {str(p.relative_to(CLUSTER)) for p in cluster_files()}
    assert {
        "runtime_env.yaml",
        "aws/tgrd-cluster.yaml",
        "gcp/tgrd-cluster.yaml",
        "kuberay/raycluster.yaml",
        "kuberay/rayjob.yaml",
    } <= names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    # --block keeps `ray start` in the foreground: killing its process group stops exactly this
    # node and nothing else (``ray stop`` would also kill the test session's own Ray).
    return subprocess.Popen(
        [str(RAY_BIN), "start", "--block", "--disable-usage-stats", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_node(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


@pytest.mark.integration
def test_two_node_cluster_runs_smoke_pipeline_via_jobs_api(tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    # The job's `python` must be this interpreter (the venv), as it is for a user who activated it.
    env = dict(
        os.environ,
        RAY_AUTH_MODE="disabled",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    gcs, dash = free_port(), free_port()
    temp = Path("/tmp") / f"ray_mn_{os.getpid()}"  # short path: unix sockets cap at 107 chars
    head = start_node(
        [
            "--head",
            f"--port={gcs}",
            f"--dashboard-port={dash}",
            "--include-dashboard=true",
            "--num-cpus=1",
            f"--temp-dir={temp}",
            "--dashboard-agent-listen-port=0",
            f"--ray-client-server-port={free_port()}",
        ],
        env,
        tmp_path / "head.log",
    )
    worker = None
    try:
        client = None
        deadline = time.time() + 120
        while client is None and time.time() < deadline:
            try:
                client = JobSubmissionClient(f"http://127.0.0.1:{dash}")
            except Exception:  # dashboard not up yet
                time.sleep(2)
        assert client is not None, (tmp_path / "head.log").read_text()[-3000:]
        # Each node needs its own temp dir, as separate machines have: nodes sharing one session
        # dir share runtime_resources/, and the second node's runtime-env agent replaces the
        # working_dir copy that is the job driver's cwd (getcwd() then fails, and torch's
        # bundled oneMKL aborts the driver with "Cannot load libtorch_cpu.so").
        worker_temp = Path(f"{temp}_w")
        worker = start_node(
            [f"--address=127.0.0.1:{gcs}", "--num-cpus=1", f"--temp-dir={worker_temp}"],
            env,
            tmp_path / "worker.log",
        )
        status = ""
        while time.time() < deadline and "2 node" not in status and status.count("node_") < 2:
            time.sleep(2)
            status = subprocess.run(
                [str(RAY_BIN), "status", f"--address=127.0.0.1:{gcs}"],
                env=env,
                capture_output=True,
                text=True,
            ).stdout
        assert status.count("node_") >= 2, status

        # The run lives at a storage URI (file:// stands in for s3:// or gs://: the same pyarrow
        # code path). The driver stages it locally and pushes each stage; Ray Train and Tune
        # write their run state straight to the URI.
        out = tmp_path / "bucket" / "smoke"
        staging = tmp_path / "staging"
        job_id = client.submit_job(
            # The whole smoke pipeline: Ray Data gating and labeling actors, Ray Train
            # distillation, scoring actors and the Ray Tune ground-truth sweep, over both nodes.
            entrypoint=f"python jobs/pipeline.py --config configs/smoke.yaml --out file://{out} "
            "student.train.use_ray=true",
            runtime_env={
                "working_dir": str(ROOT),
                "excludes": [".venv", "runs", ".git", "**/__pycache__", ".pytest_cache"],
                "env_vars": {"RAY_DATA_DISABLE_PROGRESS_BARS": "1", "TGRD_STAGING": str(staging)},
            },
        )
        end = time.time() + 480
        while client.get_job_status(job_id) not in {
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.STOPPED,
        }:
            assert time.time() < end, "job did not finish in 480 s"
            time.sleep(2)
        logs = client.get_job_logs(job_id)
        assert client.get_job_status(job_id) == JobStatus.SUCCEEDED, logs[-4000:]
        assert "[gate/code]" in logs and "[gate/finqa]" in logs
        for task in ("code", "finqa"):
            assert (out / "gate" / task / "gated.parquet").is_file()
            assert (out / "gate" / task / "_SUCCESS").is_file()
        for rubric in ("3way", "5way"):
            assert (out / "label" / rubric / "labels.parquet").is_file()
            assert (out / "label" / rubric / "_SUCCESS").is_file()
        for stage in ("distill", "score", "groundtruth", "calibrate", "report"):
            assert (out / stage).is_dir(), f"stage {stage} wrote nothing"
        assert (out / "report" / "report.md").is_file() and "Table 1" in logs
        # Checkpoints and the Tune experiment were written to the URI by Ray itself.
        assert list((out / "distill" / "3way" / "ray").rglob("checkpoint_*"))
        assert list((out / "groundtruth" / "tune").glob("experiment_state-*.json"))
        assert (out / "groundtruth" / "dbs.parquet").is_file()
        assert len(list(staging.iterdir())) == 1  # the driver's staging copy of the run
        for verifier in ("llm-only", "tool+llm", "tool+distilled", "distill-5way"):
            scores = json.loads((out / "score" / verifier / "scores.json").read_text())
            assert scores, f"no scores from {verifier}"
            assert (out / "score" / verifier / "_SUCCESS").is_file()
        # The second node did run the job's tasks and actors (worker logs carry the job id).
        job_hex = client.get_job_info(job_id).job_id
        worker_logs = list(worker_temp.glob(f"session_*/logs/worker-*-{job_hex}-*.out"))
        assert worker_logs, f"no worker of job {job_hex} ran on the second node"
    finally:
        for proc in (worker, head):
            if proc is not None:
                stop_node(proc)
        subprocess.run(["rm", "-rf", str(temp), f"{temp}_w"], check=False)


@pytest.mark.parametrize(
    "name", ["pipeline", "gate", "label", "distill", "score", "groundtruth", "calibrate", "rgsd"]
)
def test_every_job_shows_its_local_and_submit_lines(name):
    import ast

    path = ROOT / "jobs" / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path} needs a module docstring"
    assert f"python jobs/{name}.py" in doc
    assert "ray job submit" in doc and "--runtime-env cluster/runtime_env.yaml" in doc


def test_paper_config_demands_fit_the_cluster_shapes():
    """What the paper config asks Ray for (CPUs, GPUs per actor/trial/worker) exists on a node type."""
    from tgrd.config import load_config

    cfg = load_config(ROOT / "configs" / "paper" / "tgrd.yaml")
    for path in (CLUSTER / "aws" / "tgrd-cluster.yaml", CLUSTER / "gcp" / "tgrd-cluster.yaml"):
        types = load(path)["available_node_types"].values()
        nodes = [t["resources"] for t in types]
        cpu_nodes = [n for n in nodes if n.get("CPU", 0) > 0]

        def fits(cpu: float, gpu: float = 0, shapes: list = cpu_nodes) -> bool:
            return any(n.get("CPU", 0) >= cpu and n.get("GPU", 0) >= gpu for n in shapes)

        assert fits(cfg.gates.actor_num_cpus), f"{path}: no node for a gate actor"
        assert fits(cfg.teacher.actor_num_cpus), f"{path}: no node for a labeling actor"
        assert fits(cfg.downstream.cpus_per_trial, cfg.downstream.gpus_per_trial), (
            f"{path}: no node for a trial"
        )
        # DDP workers of one student fit on one multi-GPU node (NVLink, no cross-node NCCL).
        assert fits(cfg.student.train.num_workers * 1, cfg.student.train.num_workers), (
            f"{path}: student"
        )
        assert fits(cfg.score.actor_num_cpus, 1), f"{path}: no GPU node for scoring actors"
    # The KubeRay groups offer the same GPU shape as the trials ask for.
    rc = load(CLUSTER / "kuberay" / "raycluster.yaml")
    gpu_groups = [g for g in rc["spec"]["workerGroupSpecs"] if "num-gpus" in g["rayStartParams"]]
    assert (
        gpu_groups
        and float(gpu_groups[0]["rayStartParams"]["num-gpus"]) >= cfg.downstream.gpus_per_trial
    )
