"""The shipped example configs load, and the broker ACL confines each edge to its own topics."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.settings import load_settings
from smartschool_cli.localservers.mosquitto import Mosquitto

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_hub_example_loads() -> None:
    settings = load_settings(CONFIG / "hub.example.toml")
    assert settings.mqtt_shared is False and settings.mqtt_tls


class AclBroker(Mosquitto):
    """The test broker with the shipped ACL file and passwords (no TLS on loopback)."""

    def config_text(self) -> str:
        return (super().config_text().replace("allow_anonymous true", "allow_anonymous false")
                + f"password_file {self.data_dir}/passwd\nacl_file {CONFIG / 'mosquitto' / 'acl'}\n")



def client(broker: Mosquitto, user: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, f"pw-{user}")
    c.connect(broker.host, broker.port)
    c.loop_start()
    deadline = time.monotonic() + 10
    while not c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert c.is_connected(), f"{user} could not log in"
    return c


def edge_publish(broker: Mosquitto, user: str, topic: str) -> str:
    """Publish once as ``user`` with mosquitto_pub (MQTT 5, QoS 1); its warning, if any."""
    result = subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", user,
         "-P", f"pw-{user}", "-V", "mqttv5", "-q", "1", "-t", topic, "-m", "{}"],
        capture_output=True, text=True, timeout=10)
    return result.stderr.strip()


def test_acl_lets_an_edge_write_only_its_own_topics(tmp_path: Path) -> None:
    broker = AclBroker(tmp_path / "broker")
    passwd = broker.data_dir / "passwd"
    for user in ("hub", "lhp-10a1", "lhp-10a2"):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if not passwd.exists() else []),
                        str(passwd), user, f"pw-{user}"], check=True)
    broker.start()
    try:
        got: list[str] = []
        ready = threading.Event()
        hub = client(broker, "hub")
        hub.on_message = lambda c, u, m: got.append(m.topic)
        hub.on_subscribe = lambda *a: ready.set()
        hub.subscribe("ss/v1/#", qos=1)
        assert ready.wait(10)
        outcomes = [edge_publish(broker, "lhp-10a1", topic) for topic in (
            "ss/v1/lhp/lhp-10a1/telemetry/co2-1",  # its own: delivered
            "ss/v1/lhp/lhp-10a2/telemetry/co2-1",  # another edge's: refused
            "ss/v1/lhp/lhp-10a1/cmd",  # commands come from the hub only: refused
            "ss/v1/lhp/lhp-10a1/status",  # its own: delivered
        )]
        assert ["Not authorized" in outcome for outcome in outcomes] == [False, True, True, False]
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == ["ss/v1/lhp/lhp-10a1/telemetry/co2-1", "ss/v1/lhp/lhp-10a1/status"]
        hub.loop_stop()
        hub.disconnect()
    finally:
        broker.stop()
