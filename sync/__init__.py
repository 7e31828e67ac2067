"""Sync between kiosk and district hub over MQTT 5: outbox, publisher, downlink documents, hub.

``sync.mqtt`` is the only module that imports paho. The kiosk runs :class:`sync.publisher.Publisher`
in-process (or ``yizhan sync`` alone); the district runs one or more ``yizhan hub run`` processes.
"""
