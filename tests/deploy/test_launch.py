"""``launch/deploy.launch.py`` starts exactly the nodes of the deploy table.

The ``launch`` and ``launch_ros`` packages are not installable here, so the test gives the
launch file stand-ins that record what it builds, runs it, and compares the nodes with
:func:`h2s2r.deploy.graph.deploy_graph` and with what ``h2s2r deploy`` starts."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from h2s2r.deploy.graph import DeployOptions, deploy_graph, ros_args
from tests.conftest import REPO


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _Config:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context["args"][self.name]


@pytest.fixture
def launch_file(monkeypatch):
    fake = {
        "launch": types.ModuleType("launch"),
        "launch.actions": types.ModuleType("launch.actions"),
        "launch.substitutions": types.ModuleType("launch.substitutions"),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.ModuleType("launch_ros.actions"),
    }
    fake["launch"].LaunchDescription = lambda entities: list(entities)
    fake["launch.actions"].DeclareLaunchArgument = type("DeclareLaunchArgument", (_Recorded,), {})
    fake["launch.actions"].OpaqueFunction = type("OpaqueFunction", (_Recorded,), {})
    fake["launch.substitutions"].LaunchConfiguration = _Config
    fake["launch_ros.actions"].Node = type("Node", (_Recorded,), {})
    fake["launch_ros.actions"].LifecycleNode = type("LifecycleNode", (_Recorded,), {})
    for name, mod in fake.items():
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location(
        "deploy_launch", REPO / "launch" / "deploy.launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_launch(module, **args):
    entities = module.generate_launch_description()
    declared = {e.args[0]: e.kwargs["default_value"] for e in entities[:-1]}
    context = {"args": declared | args}
    return declared, entities[-1].kwargs["function"](context)


@pytest.mark.parametrize("use_sim", [True, False])
def test_launch_file_starts_the_table(launch_file, use_sim, tmp_path):
    ws = str(tmp_path)
    declared, nodes = run_launch(
        launch_file,
        policy_dir=ws,
        use_sim=str(use_sim).lower(),
        robot_config="cfg.yaml",
        remappings="/joint_states:=/robot/joint_states",
    )
    assert {"policy_dir", "use_sim", "use_camera", "robot_config", "remappings"} <= set(declared)
    table = deploy_graph(DeployOptions(workspace=ws, use_sim=use_sim, robot_config="cfg.yaml"))
    assert [n.kwargs["name"] for n in nodes] == [s.name for s in table]
    for node, spec in zip(nodes, table, strict=True):
        assert type(node).__name__ == ("LifecycleNode" if spec.lifecycle else "Node")
        assert node.kwargs["executable"] == spec.executable
        assert node.kwargs["parameters"] == [spec.parameters]
        assert node.kwargs["remappings"] == [("/joint_states", "/robot/joint_states")]
    assert ("sim_robot" in [s.name for s in table]) == use_sim


def test_h2s2r_deploy_starts_the_same_table(tmp_path):
    """The command lines of ``h2s2r deploy``: each node's executable with its name and
    every parameter of the table, typed as the node declares it."""
    from h2s2r.cli.deploy import node_command

    table = deploy_graph(DeployOptions(workspace=str(tmp_path / "123"), use_sim=True))
    for spec in table:
        cmd = node_command(spec)
        assert cmd[0].endswith(spec.executable) and cmd[1:] == ros_args(spec)
        params = {a.split(":=")[0]: a.split(":=")[1] for a in cmd if ":=" in a}
        assert params["__node"] == spec.name
        assert params["workspace"] == f"'{tmp_path / '123'}'"  # quoted: stays a string
    assert dict(a.split(":=") for a in ros_args(table[0]) if ":=" in a)["publish_images"] == "false"
