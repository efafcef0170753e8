"""Deploy a policy on a robot with ROS 2's launch (machines with ROS 2 Jazzy installed).

    ros2 launch launch/deploy.launch.py policy_dir:=runs/box use_sim:=true
    ros2 launch launch/deploy.launch.py policy_dir:=runs/box \\
        robot_config:=configs/deploy/iiwa_allegro_ros2_control.yaml
    ros2 lifecycle set /command configure && ros2 lifecycle set /command activate

The nodes and their parameters come from ``h2s2r.deploy.graph.deploy_graph``, the table
``h2s2r deploy`` starts too; the h2s2r package (``pip install -e '.[deploy]'``) must be
importable and its node executables on the PATH. ``remappings`` takes ``from:=to`` pairs
separated by commas, applied to every node. With ``use_sim`` the command node activates
itself once joint states and object poses arrive; on hardware activate it yourself.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

ARGUMENTS = {
    "policy_dir": ("", "demo workspace with policy/, task/, object/"),
    "use_sim": ("false", "a simulated MuJoCo robot behind the same topics"),
    "use_camera": ("false", "the object pose from colour and depth (tracker in the loop)"),
    "robot_config": ("", "robot topics and drivers YAML (configs/deploy/)"),
    "remappings": ("", "topic remappings for every node: from:=to,from:=to"),
    "log_dir": ("", "where nodes write their logs (default: policy_dir/deploy_log)"),
}


def _nodes(context):
    from h2s2r.deploy.graph import DeployOptions, deploy_graph

    def arg(name):
        return LaunchConfiguration(name).perform(context)

    options = DeployOptions(
        workspace=arg("policy_dir"),
        use_sim=arg("use_sim").lower() == "true",
        use_camera=arg("use_camera").lower() == "true",
        robot_config=arg("robot_config"),
        log_dir=arg("log_dir"),
    )
    remaps = [tuple(r.split(":=")) for r in arg("remappings").split(",") if ":=" in r]
    actions = []
    for spec in deploy_graph(options):
        kind = LifecycleNode if spec.lifecycle else Node
        kw = {"namespace": ""} if spec.lifecycle else {}
        actions.append(
            kind(
                executable=spec.executable,
                name=spec.name,
                parameters=[dict(spec.parameters)],
                remappings=remaps,
                output="screen",
                **kw,
            )
        )
    return actions


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(k, default_value=v, description=d)
            for k, (v, d) in ARGUMENTS.items()
        ]
        + [OpaqueFunction(function=_nodes)]
    )
