"""The shipped broker set-up and the kiosk agree (issue 23, item 5): every subscription the kiosk makes
is granted by the logins and roles ``config/mosquitto/yizhan-broker`` creates, and where a broker
refuses one, the kiosk's link and ``yizhan doctor`` name the document that will not arrive.

Both sides are read from what ships: the kiosk's own publisher (its link's topic filters) and the
script run against the shipped ``mosquitto.conf`` (``tests/support/broker.py``).
"""
from __future__ import annotations

import logging
import os
import subprocess

import pytest

from app.doctor import FAIL, check_broker
from sync.publisher import KIOSK_SUBSCRIPTIONS, Publisher
from tests.support.broker import ADMIN_PASSWORD, SecuredBroker, station_settings, tools_missing

pytestmark = [pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "-"), pytest.mark.services]


@pytest.fixture()
def secured_broker(tmp_path):
    broker = SecuredBroker(tmp_path).start()
    yield broker
    broker.stop()


def test_the_shipped_broker_grants_every_subscription_of_the_kiosk(tmp_path, secured_broker):
    settings = station_settings(tmp_path, secured_broker, "st-a", tmp_path / "data")
    publisher = Publisher(settings)
    filters = publisher.link.topic_filters()
    assert len(filters) == len(KIOSK_SUBSCRIPTIONS) and "yizhan/v1/st-a/ack" in filters
    publisher.link.start()
    try:
        assert publisher.link.wait_connected(10), publisher.link.last_error
        assert publisher.link.wait_subscribed(10)
        refused = dict(publisher.link.refused)
    finally:
        publisher.link.stop()
    assert refused == {}, f"the shipped broker refuses the kiosk: {refused}"


def dynsec(tmp_path, broker, *args: str) -> None:
    """``mosquitto_ctrl dynsec …`` as the broker's admin (the options file keeps the password off the command line)."""
    (tmp_path / "mosquitto_ctrl").write_text(f"-h 127.0.0.1\n-p {broker.port}\n-u admin\n-P {ADMIN_PASSWORD}\n")
    subprocess.run(["mosquitto_ctrl", "dynsec", *args], env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path)),
                   check=True, capture_output=True, timeout=30)


def test_doctor_and_the_link_name_the_document_a_broker_refuses(tmp_path, secured_broker, caplog):
    # A broker whose grants lack the station's config document (an operator's mistake).
    dynsec(tmp_path, secured_broker, "removeRoleACL", "station-st-a", "subscribeLiteral", "yizhan/v1/st-a/config")
    settings = station_settings(tmp_path, secured_broker, "st-a", tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="sync.mqtt"):
        check = check_broker(settings)
    assert "refused the subscription to yizhan/v1/st-a/config" in caplog.text      # the kiosk's log says it too
    assert check.status == FAIL
    assert "st-a/config" in check.message and "yizhan-broker" in check.message
    assert "yizhan/v1/st-a/config" in check.details["refused"]
    assert "yizhan/v1/st-a/ack" not in check.details["refused"]


def test_doctor_passes_a_station_the_broker_grants(tmp_path, secured_broker):
    settings = station_settings(tmp_path, secured_broker, "st-b", tmp_path / "data")
    check = check_broker(settings)
    assert check.status != FAIL, check
    assert "subscriptions granted" in check.message
