"""DDS-Security is not available in the PyPI ROS 2 wheels: the evidence the README cites.

With ``ROS_SECURITY_ENABLE`` and an enclave present, rcl hands the enclave's files to Fast
DDS, whose PyPI build refuses: "This Fast DDS version doesn't have the security
libraries". If a later wheel gains them, this test fails, and deploy should then make an
SROS2 keystore and enforce it (issue #18, Security)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")

ENCLAVE_FILES = (
    "identity_ca.cert.pem",
    "cert.pem",
    "key.pem",
    "permissions_ca.cert.pem",
    "governance.p7s",
    "permissions.p7s",
)

PROBE = """
import rclpy
rclpy.init(args=["--ros-args", "--enclave", "/h2s2r"])
try:
    rclpy.create_node("security_probe")
    print("NODE CREATED")
except Exception as e:
    print("REFUSED:", e)
"""


def test_pypi_fast_dds_has_no_security_plugins(tmp_path, worker_domain):
    enclave = tmp_path / "keystore" / "enclaves" / "h2s2r"
    enclave.mkdir(parents=True)
    for name in ENCLAVE_FILES:  # rcl checks that they exist; Fast DDS refuses before reading
        (enclave / name).write_text("placeholder\n")
    env = dict(
        os.environ,
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_DOMAIN_ID=str(worker_domain),
        ROS_SECURITY_ENABLE="true",
        ROS_SECURITY_STRATEGY="Enforce",
        ROS_SECURITY_KEYSTORE=str(tmp_path / "keystore"),
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    text = out.stdout + out.stderr
    assert "Found security directory" in text, text  # rcl did take the enclave
    assert "NODE CREATED" not in text, text
    assert "doesn't have the security libraries" in text, text
