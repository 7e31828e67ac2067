"""The district hub: validates and stores what the kiosks send, exactly once; balances, reports,
certificates, downlink documents, and its command line. Reads the kiosk core's record kinds,
never its services.
"""
