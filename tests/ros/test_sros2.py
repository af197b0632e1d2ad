"""SROS2 (DDS security) with the installed rclpy wheels: does a node start with security enforced?

The keystore is made with openssl the way `ros2 security create_keystore` / `create_enclave` lay it out
(the ros2 CLI and sros2 are not installable here): one CA for identities and permissions, an enclave
/robot_brain/asr with its certificate, and signed governance and permissions documents. A node is then
started with ROS_SECURITY_ENABLE=true, ROS_SECURITY_STRATEGY=Enforce and `--ros-args --enclave`.
What happens is measured, not assumed: if the wheels' Fast DDS has no security plugins, the test
skips with the error Fast DDS printed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENCLAVE = "/robot_brain/asr"

GOVERNANCE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains><id_range><min>0</min><max>230</max></id_range></domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>SIGN</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
"""

PERMISSIONS = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd">
  <permissions>
    <grant name="{enclave}">
      <subject_name>CN={enclave}</subject_name>
      <validity><not_before>2020-01-01T00:00:00</not_before><not_after>2035-01-01T00:00:00</not_after></validity>
      <allow_rule>
        <domains><id_range><min>0</min><max>230</max></id_range></domains>
        <publish><topics><topic>*</topic></topics></publish>
        <subscribe><topics><topic>*</topic></topics></subscribe>
      </allow_rule>
      <default>DENY</default>
    </grant>
  </permissions>
</dds>
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_keystore(root: Path, enclave: str = ENCLAVE) -> Path:
    """An SROS2-layout keystore at `root` with one enclave, made with openssl."""
    public, private, enclaves = root / "public", root / "private", root / "enclaves"
    for folder in (public, private, enclaves):
        folder.mkdir(parents=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(private / "ca.key.pem"), cwd=root)
    _openssl("req", "-x509", "-new", "-key", str(private / "ca.key.pem"), "-out", str(public / "ca.cert.pem"),
             "-days", "3650", "-subj", "/CN=sros2testCA", "-sha256", cwd=root)
    for name in ("identity_ca", "permissions_ca"):
        shutil.copy(public / "ca.cert.pem", public / f"{name}.cert.pem")
        shutil.copy(private / "ca.key.pem", private / f"{name}.key.pem")
    (enclaves / "governance.xml").write_text(GOVERNANCE)
    _openssl("smime", "-sign", "-text", "-in", "governance.xml", "-out", "governance.p7s", "-signer",
             str(public / "ca.cert.pem"), "-inkey", str(private / "ca.key.pem"), cwd=enclaves)
    folder = enclaves / enclave.strip("/")
    folder.mkdir(parents=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem", cwd=folder)
    subject = "/CN=" + enclave.replace("/", "\\/")
    _openssl("req", "-new", "-key", "key.pem", "-subj", subject, "-out", "req.csr", cwd=folder)
    _openssl("x509", "-req", "-in", "req.csr", "-CA", str(public / "ca.cert.pem"), "-CAkey",
             str(private / "ca.key.pem"), "-CAcreateserial", "-out", "cert.pem", "-days", "3650", "-sha256", cwd=folder)
    (folder / "permissions.xml").write_text(PERMISSIONS.format(enclave=enclave))
    _openssl("smime", "-sign", "-text", "-in", "permissions.xml", "-out", "permissions.p7s", "-signer",
             str(public / "ca.cert.pem"), "-inkey", str(private / "ca.key.pem"), cwd=folder)
    shutil.copy(enclaves / "governance.p7s", folder / "governance.p7s")
    for name in ("identity_ca", "permissions_ca"):
        shutil.copy(public / f"{name}.cert.pem", folder / f"{name}.cert.pem")
    return root


NODE = """
import rclpy, sys
rclpy.init(args=["x", "--ros-args", "--enclave", sys.argv[1]])
try:
    node = rclpy.create_node("sros2_probe")
except Exception as exc:
    print("NODE FAILED:", type(exc).__name__, exc, flush=True)
    sys.exit(3)
print("NODE STARTED", flush=True)
node.destroy_node()
rclpy.try_shutdown()
"""


def test_a_node_with_security_enforced(isolated, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no keystore to try")
    keystore = make_keystore(tmp_path / "keystore")
    enclave, ca = keystore / "enclaves" / ENCLAVE.strip("/"), str(keystore / "public" / "ca.cert.pem")
    _openssl("verify", "-CAfile", ca, "cert.pem", cwd=enclave)                  # the keystore itself is sound
    for document in ("governance.p7s", "permissions.p7s"):
        _openssl("smime", "-verify", "-in", document, "-CAfile", ca, "-out", os.devnull, cwd=enclave)
    env = {**os.environ, "ROS_SECURITY_KEYSTORE": str(keystore), "ROS_SECURITY_ENABLE": "true",
           "ROS_SECURITY_STRATEGY": "Enforce"}
    run = subprocess.run([sys.executable, "-c", NODE, ENCLAVE], env=env, capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    if "NODE STARTED" in run.stdout:
        assert run.returncode == 0, out
        return                                    # security plugins present: SROS2 works with these wheels
    assert run.returncode != 0, out
    # Enforce must never fall back to an unsecured node: it failed, and says why
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    plugin = [line for line in lines if "security libraries" in line or "SECURITY=ON" in line]
    if plugin:
        pytest.skip("measured: the PyPI wheels' Fast DDS (libfastrtps 2.14) was built without DDS security; "
                    "with ROS_SECURITY_ENABLE=true, Enforce and a valid keystore the node fails to start: "
                    + " / ".join(dict.fromkeys(plugin))[:400])
    pytest.fail("a secured node failed to start for another reason:\n" + out[-3000:])
