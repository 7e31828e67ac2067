"""Every route of the workbench, each built by :func:`hub.web.guard.route`."""
from __future__ import annotations

from hub.web.routes import (activities, admin, alerts, auth, care, monthly, people, publish, reports, requests, stations,
                            today, wishes)

ROUTES = [*auth.ROUTES, *today.ROUTES, *alerts.ROUTES, *people.ROUTES, *reports.ROUTES, *stations.ROUTES,
          *publish.ROUTES, *admin.ROUTES, *requests.ROUTES,
          *wishes.ROUTES, *activities.ROUTES, *monthly.ROUTES, *care.ROUTES]
